/* placeholder until this test file is written */
#include "nbr_test.h"
static void placeholder(void) { CHECK(1); }
NBR_TEST_MAIN(TEST(placeholder))
