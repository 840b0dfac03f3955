#pragma once
// Helpers for the kbe_shard tests, which run as one process and under mpirun.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/device.h"
#include "test_util.h"

namespace hrere::kbe::testing {

// One intra-op thread in every kbe test binary: ranks share the few cores here.
inline const bool kSingleThreaded = (torch::set_num_threads(1), true);

// The device the models under test compute on (HRERE_TEST_DEVICE; references stay on the host).
inline torch::Device test_device() {
  return comm::resolve_device(hrere::testing::test_device_spec());
}

// A temporary folder every rank sees: rank 0 creates it and broadcasts its path; it is
// removed when rank 0's object goes (after a barrier, so no rank is still using it).
class SharedTempDir {
 public:
  explicit SharedTempDir(comm::Communicator& comm) : comm_(comm) {
    if (comm.rank() == 0) owned_ = std::make_unique<hrere::testing::TempDir>();
    std::string path = owned_ ? owned_->path().string() : std::string();
    torch::Tensor length = torch::tensor({static_cast<std::int64_t>(path.size())});
    comm.broadcast(length, 0);
    torch::Tensor bytes = torch::zeros({length.item<std::int64_t>()}, torch::kUInt8);
    if (owned_) std::copy(path.begin(), path.end(), bytes.data_ptr<std::uint8_t>());
    comm.broadcast(bytes, 0);
    path_.assign(reinterpret_cast<const char*>(bytes.data_ptr<std::uint8_t>()), bytes.numel());
  }
  ~SharedTempDir() { comm_.barrier(); }

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  comm::Communicator& comm_;
  std::unique_ptr<hrere::testing::TempDir> owned_;
  std::string path_;
};

// Largest |a - b| relative to max(|b|max, tiny): one number to compare with a tolerance; on
// the host, so a and b may be on different devices.
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = std::max(b.abs().max().item<double>(), 1e-30);
  return (a.to(torch::kCPU, torch::kDouble) - b.to(torch::kCPU, torch::kDouble))
             .abs()
             .max()
             .item<double>() /
         scale;
}

}  // namespace hrere::kbe::testing
