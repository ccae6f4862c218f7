/* Runner of memctl's suites (see check_memctl.h). */
#include <stddef.h>

#include "tests/memctl/check_memctl.h"

int main(void)
{
	return client_run_suites(memctl_suite(), memctl_cli_suite(), memctl_cache_suite(),
				 memctl_ops_suite(), NULL);
}
