#include "cleanplate/pipeline/cluster.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "cleanplate/error.hpp"
#ifdef CLEANPLATE_MPI
#include <mpi.h>
#endif

namespace cleanplate::pipeline {
namespace {

// The number of ranks an MPI launcher announced (Open MPI, MPICH's Hydra, Slurm's PMI); 1 without one.
int launched_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* value = std::getenv(name)) return std::max(1, std::atoi(value));
  return 1;
}

}  // namespace

#ifdef CLEANPLATE_MPI

Cluster::Cluster(bool join) {
  if (!join || launched_ranks() == 1) return;
  int provided = 0;
  // Only the main thread calls MPI; the flow graphs' threads never do.
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  joined_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Cluster::~Cluster() {
  if (joined_) MPI_Finalize();
}

void Cluster::sum(std::span<double> values) const {
  if (size_ > 1)
    MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

std::vector<double> Cluster::gather(std::span<const double> values) const {
  std::vector<double> all(values.size() * static_cast<std::size_t>(size_));
  MPI_Allgather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, all.data(), static_cast<int>(values.size()),
                MPI_DOUBLE, MPI_COMM_WORLD);
  return all;
}

void Cluster::share_columns(std::uint8_t* columns, std::int64_t column_bytes, std::span<const long> first) const {
  if (size_ == 1) return;
  // One column as one element: counts stay within int for any video (2^31 columns), where bytes would not.
  MPI_Datatype column;
  MPI_Type_contiguous(static_cast<int>(column_bytes), MPI_BYTE, &column);
  MPI_Type_commit(&column);
  std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(counts.size());
  for (std::size_t r = 0; r < counts.size(); ++r) {
    offsets[r] = static_cast<int>(first[r]);
    counts[r] = static_cast<int>(first[r + 1] - first[r]);
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, columns, counts.data(), offsets.data(), column, MPI_COMM_WORLD);
  MPI_Type_free(&column);
}

void Cluster::barrier() const {
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void Cluster::abort() const {
  if (joined_) MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

#else  // one process

Cluster::Cluster(bool join) {
  if (join && launched_ranks() > 1)
    throw Error("started as one of " + std::to_string(launched_ranks()) +
                " MPI ranks, but this cleanplate was built without MPI: install libopenmpi-dev and rebuild "
                "(CMake finds it), or run it without mpirun");
}
Cluster::~Cluster() = default;
void Cluster::sum(std::span<double>) const {}
std::vector<double> Cluster::gather(std::span<const double> values) const { return {values.begin(), values.end()}; }
void Cluster::share_columns(std::uint8_t*, std::int64_t, std::span<const long>) const {}
void Cluster::barrier() const {}
void Cluster::abort() const { std::exit(1); }

#endif

}  // namespace cleanplate::pipeline
