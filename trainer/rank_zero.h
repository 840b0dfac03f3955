#pragma once
// Work that one rank does for all (writing the run folder, preparing data): run on rank 0,
// with every rank learning whether it failed, so a bad input on rank 0 becomes an error
// everywhere instead of the others waiting in a collective.
#include <torch/torch.h>

#include <exception>

#include "comm/communicator.h"
#include "data_pipeline/input_error.h"

namespace hrere::train {

template <typename Work>
void on_rank_zero(comm::Communicator& comm, Work work) {
  std::exception_ptr failure;
  if (comm.rank() == 0) {
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (comm.size() > 1) {
    torch::Tensor failed = torch::tensor({failure ? 1 : 0}, torch::kInt32);
    comm.all_reduce(failed, comm::ReduceOp::Max);
    if (!failure && failed.item<int>() != 0) {
      throw data::InputError("rank 0 failed (its message says why)");
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace hrere::train
