/*
 * memctl's Check suites, run by tests/memctl/check_memctl: the built
 * memctl/memctl against a real allocatord (tests/common/client_fixture.h).
 */
#ifndef ALLOCATORD_TESTS_CHECK_MEMCTL_H
#define ALLOCATORD_TESTS_CHECK_MEMCTL_H

#include "tests/common/client_fixture.h"

Suite *memctl_suite(void);
Suite *memctl_cli_suite(void);
Suite *memctl_cache_suite(void);
Suite *memctl_ops_suite(void);

#endif
