/*
 * Issue 10's Check suites with real processes (keepers, serving processes
 * killed and replaced, the fd-store supervisor), run by
 * tests/restart/check_restart on the fixture of tests/common/client_fixture.h.
 * The restart soak is a program of its own (restart_soak.c).
 */
#ifndef ALLOCATORD_TESTS_CHECK_RESTART_H
#define ALLOCATORD_TESTS_CHECK_RESTART_H

#include "tests/common/client_fixture.h"

Suite *bad_state_suite(void);

#endif
