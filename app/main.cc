#include "app/cli.h"
#include "comm/device.h"

int main(int argc, char** argv) {
  hrere::comm::keep_freed_host_memory();
  return hrere::train::run_cli(argc, argv);
}
