/*
 * libmemclient's Check suites, run by tests/client/check_client, on the
 * fixture of tests/common/client_fixture.h.
 */
#ifndef ALLOCATORD_TESTS_CHECK_CLIENT_H
#define ALLOCATORD_TESTS_CHECK_CLIENT_H

#include "tests/common/client_fixture.h"

Suite *connect_suite(void);
Suite *wire_suite(void);
Suite *alloc_suite(void);
Suite *errors_suite(void);
Suite *stats_suite(void);
Suite *groups_suite(void);
Suite *share_suite(void);
Suite *async_suite(void);
Suite *cache_suite(void);
Suite *cache_model_suite(void);
Suite *cache_misuse_suite(void);
Suite *examples_suite(void);
Suite *timeout_suite(void);
Suite *reload_suite(void);
Suite *align_suite(void);
Suite *resume_suite(void);
Suite *restart_suite(void);

#endif
