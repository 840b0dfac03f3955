#include "trainer/cli.h"

int main(int argc, char** argv) { return hrere::train::run_cli(argc, argv); }
