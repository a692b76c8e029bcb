// The processes that share one `separate` run. Started by mpirun (in a build with CLEANPLATE_MPI)
// they are MPI's ranks; otherwise there is one, and every call below is a no-op or a copy. The
// rest of the pipeline calls only these, so it builds and runs the same without MPI.
//
// Every call is collective: all ranks make it, in the same order, from their main thread.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cleanplate::pipeline {

class Cluster {
 public:
  // One process. With `join` and an MPI launcher's environment (mpirun), MPI's world; throws when
  // this build has no MPI but was started as one of several ranks.
  explicit Cluster(bool join = false);
  ~Cluster();  // MPI_Finalize, when it joined
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool leader() const { return rank_ == 0; }  // rank 0 assembles the outputs
  // Frames [first, first + count) of `frames` are rank r's: contiguous, balanced ranges in rank order.
  long first_frame(int rank, long frames) const { return frames * rank / size_; }

  void sum(std::span<double> values) const;  // element-wise over the ranks, in place on every rank
  // Every rank's `values` (the same count on each), rank after rank, on every rank.
  std::vector<double> gather(std::span<const double> values) const;
  // Columns of `column_bytes` bytes each: rank r holds columns [first[r], first[r + 1]) (first has
  // size() + 1 entries); afterwards every rank holds all of them.
  void share_columns(std::uint8_t* columns, std::int64_t column_bytes, std::span<const long> first) const;
  void barrier() const;
  // Ends every rank of the job with exit code 1, after this rank printed why.
  [[noreturn]] void abort() const;

 private:
  int rank_ = 0, size_ = 1;
  bool joined_ = false;
};

}  // namespace cleanplate::pipeline
