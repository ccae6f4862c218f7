/* Runner of libmemclient's suites (see check_client.h). */
#include <stddef.h>

#include "tests/client/check_client.h"

int main(void)
{
	return client_run_suites(connect_suite(), wire_suite(), alloc_suite(), errors_suite(),
				 stats_suite(), groups_suite(), share_suite(), async_suite(),
				 cache_suite(), cache_model_suite(), cache_misuse_suite(),
				 examples_suite(), timeout_suite(), reload_suite(), align_suite(),
				 resume_suite(), restart_suite(), NULL);
}
