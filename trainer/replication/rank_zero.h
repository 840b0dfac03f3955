#pragma once
// Work that one rank does for all (writing the run folder, preparing data): run on rank 0,
// with every rank learning whether it failed, so a bad input on rank 0 becomes an error
// everywhere instead of the others waiting in a collective.
#include <torch/torch.h>

#include <exception>
#include <stdexcept>

#include "comm/communicator.h"
#include "core/errors.h"

namespace hrere::train {

// The other ranks raise the same kind of error as rank 0, so every rank exits with its code.
template <typename Work>
void on_rank_zero(comm::Communicator& comm, Work work) {
  enum Outcome : int { kDone = 0, kBadInput = 1, kInternal = 2, kWriteFailed = 3 };
  std::exception_ptr failure;
  int outcome = kDone;
  if (comm.rank() == 0) {
    try {
      work();
    } catch (const InputError&) {
      failure = std::current_exception();
      outcome = kBadInput;
    } catch (const OutputError&) {
      failure = std::current_exception();
      outcome = kWriteFailed;
    } catch (...) {
      failure = std::current_exception();
      outcome = kInternal;
    }
  }
  if (comm.size() > 1) {
    torch::Tensor shared = torch::tensor({outcome}, torch::kInt32);
    comm.broadcast(shared, 0);
    outcome = shared.item<int>();
  }
  if (failure) std::rethrow_exception(failure);
  if (outcome == kBadInput) throw InputError("rank 0 failed on its input (its message says why)");
  if (outcome == kWriteFailed) throw OutputError("rank 0 could not write (its message says why)");
  if (outcome == kInternal) throw std::runtime_error("rank 0 failed (its message says why)");
}

}  // namespace hrere::train
