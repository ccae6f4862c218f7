/* Runner of the restart suites (see check_restart.h). */
#include <stddef.h>

#include "tests/restart/check_restart.h"

int main(void)
{
	return client_run_suites(bad_state_suite(), NULL);
}
