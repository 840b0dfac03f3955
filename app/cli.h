#pragma once
// The `hrere` command line: parses arguments, runs one subcommand, maps errors to exit codes
// (0 success, 2 bad input or config, 1 internal error).
namespace hrere::train {

int run_cli(int argc, char** argv);

}  // namespace hrere::train
