/* The daemon layer's Check suites, run by tests/daemon/check_daemon. */
#ifndef ALLOCATORD_TESTS_CHECK_DAEMON_H
#define ALLOCATORD_TESTS_CHECK_DAEMON_H

#include <check.h>

Suite *config_suite(void);
Suite *choice_suite(void);
Suite *ops_suite(void);
Suite *ops_random_suite(void);
Suite *ops_limits_suite(void);
Suite *holds_suite(void);
Suite *books_suite(void);
Suite *books_server_suite(void);
Suite *peer_groups_suite(void);
Suite *lease_suite(void);
Suite *limits_suite(void);
Suite *lease_server_suite(void);
Suite *limits_server_suite(void);
Suite *dispatch_suite(void);
Suite *startup_suite(void);
Suite *memcheck_suite(void);
Suite *server_suite(void);
Suite *steady_suite(void);
Suite *reload_suite(void);
Suite *socket_suite(void);
Suite *holes_suite(void);
Suite *takeover_suite(void);
Suite *io_abuse_suite(void);
Suite *hostile_suite(void);
Suite *state_suite(void);
Suite *state_proc_suite(void);

#endif
