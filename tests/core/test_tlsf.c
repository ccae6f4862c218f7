#include "tests/core/check_core.h"
Suite *tlsf_suite(void)
{
	return suite_create("tlsf");
}
