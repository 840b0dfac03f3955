#include "comm/device.h"

#include <malloc.h>

#include <torch/cuda.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace hrere::comm {
namespace {

// cuda:N's N, or -1 for plain "cuda". Throws DeviceError on anything else.
int parse_cuda_index(const std::string& spec) {
  if (spec == "cuda") return -1;
  const std::string prefix = "cuda:";
  if (spec.compare(0, prefix.size(), prefix) != 0 || spec.size() == prefix.size() ||
      spec.find_first_not_of("0123456789", prefix.size()) != std::string::npos ||
      spec.size() > prefix.size() + 4) {
    throw DeviceError("'" + spec +
                      "' is not a device: use cpu, cuda (the local rank's GPU) or "
                      "cuda:N");
  }
  return std::stoi(spec.substr(prefix.size()));
}

}  // namespace

void check_device_spec(const std::string& spec) {
  if (spec != "cpu") parse_cuda_index(spec);
}

torch::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return torch::kCPU;
  const int index = parse_cuda_index(spec);
  if (!torch::cuda::is_available()) {
    throw DeviceError("'" + spec + "' asks for a GPU, but " +
                      (torch::hasCUDA() ? std::string("no CUDA device is visible to this process "
                                                      "(check CUDA_VISIBLE_DEVICES and the driver)")
                                        : std::string("this build's LibTorch has no CUDA support "
                                                      "(build hrere against a CUDA LibTorch)")));
  }
  const int visible = static_cast<int>(torch::cuda::device_count());
  if (index >= visible) {
    throw DeviceError("'" + spec + "' asks for GPU " + std::to_string(index) +
                      " but this process "
                      "sees " +
                      std::to_string(visible) + " (numbered from 0)");
  }
  const int chosen = index >= 0 ? index : local_rank() % visible;
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(chosen));
}

int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID",
                           "PMI_LOCAL_RANK", "LOCAL_RANK"}) {
    if (const char* value = std::getenv(name)) {
      try {
        return std::max(0, std::stoi(value));
      } catch (const std::exception&) {
        throw DeviceError(std::string("environment variable ") + name + "='" + value +
                          "' is not a local rank");
      }
    }
  }
  return 0;
}

torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device) {
  if (host.device() == device) return host;
  if (device.is_cuda() && host.is_cpu()) {
    return host.pin_memory().to(device, /*non_blocking=*/true);
  }
  return host.to(device);
}

void keep_freed_host_memory() {
#ifdef __GLIBC__
  // Blocks below 32 MiB come from the heap and are reused; the heap shrinks only past 1 GiB
  // of free space at its top.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace hrere::comm
