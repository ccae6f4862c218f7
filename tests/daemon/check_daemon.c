/*
 * Runner for the daemon suites. CK_RUN_SUITE / CK_RUN_CASE select a part;
 * CK_FORK=no runs in one process (for valgrind and gdb).
 */
#include <stdlib.h>

#include "tests/daemon/check_daemon.h"

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_add_suite(sr, choice_suite());
	srunner_add_suite(sr, ops_suite());
	srunner_add_suite(sr, ops_random_suite());
	srunner_add_suite(sr, ops_limits_suite());
	srunner_add_suite(sr, holds_suite());
	srunner_add_suite(sr, books_suite());
	srunner_add_suite(sr, books_server_suite());
	srunner_add_suite(sr, peer_groups_suite());
	srunner_add_suite(sr, lease_suite());
	srunner_add_suite(sr, limits_suite());
	srunner_add_suite(sr, dispatch_suite());
	srunner_add_suite(sr, memcheck_suite());
	srunner_add_suite(sr, startup_suite());
	srunner_add_suite(sr, server_suite());
	srunner_add_suite(sr, lease_server_suite());
	srunner_add_suite(sr, limits_server_suite());
	srunner_add_suite(sr, steady_suite());
	srunner_add_suite(sr, reload_suite());
	srunner_add_suite(sr, state_suite());
	srunner_add_suite(sr, state_proc_suite());
	srunner_add_suite(sr, socket_suite());
	srunner_add_suite(sr, holes_suite());
	srunner_add_suite(sr, takeover_suite());
	srunner_add_suite(sr, io_abuse_suite());
	srunner_add_suite(sr, hostile_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
