/*
 * dmarcsift: entry point. Dispatches to one file per subcommand (cli/cmd_*.c).
 * Exit codes: 0 ok, 1 something was quarantined / failed, 2 usage error,
 * 3 database unreachable.
 */
#include "cli/cmd.h"

int main(int argc, char **argv)
{
	return cmd_main(argc, argv);
}
