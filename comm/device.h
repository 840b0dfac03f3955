#pragma once
// Which device a command computes on (`train.device`, `kbe.device`; docs/DISTRIBUTED.md).
//
//   cpu     the host (default)
//   cuda    this rank's GPU: its rank among the ranks of its node, modulo the GPUs it sees
//           (so one GPU per rank when a launcher hides the others, or all of a node's GPUs
//           shared out when it does not)
//   cuda:N  GPU N as this process numbers them
#include <torch/types.h>

#include <stdexcept>
#include <string>

namespace hrere::comm {

// A device spec that cannot be honoured here: bad syntax, CUDA asked of a LibTorch built
// without it, no visible GPU, or an index past the visible ones. The message says which.
class DeviceError : public std::invalid_argument {
 public:
  explicit DeviceError(const std::string& message) : std::invalid_argument(message) {}
};

// Throws DeviceError unless `spec` is cpu, cuda or cuda:N (syntax only; nothing is probed).
void check_device_spec(const std::string& spec);

// The device `spec` names for this process, probing CUDA when it is asked for.
torch::Device resolve_device(const std::string& spec);

// Makes glibc keep freed host memory for reuse instead of handing each large block back to
// the system: LibTorch frees and reallocates its per-step buffers (megabytes), and every
// fresh page costs a fault, which on virtual machines dominated a ComplEx step at 3M
// entities (docs/BENCHMARKS.md, "Host allocator"). Call once at the start of main.
void keep_freed_host_memory();

// This process's index among the ranks of its node, from the launcher's environment
// (Open MPI, Slurm, MPICH/PMI); 0 when started alone.
int local_rank();

// `host` on `device`: itself when it is there already; for a GPU, copied through pinned
// memory without blocking, so the host goes on with its next work while the copy runs.
torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device);

}  // namespace hrere::comm
