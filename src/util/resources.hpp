// What this process may use of the machine: CPUs (its affinity mask, which Slurm and taskset
// narrow) and memory (MemAvailable, or the cgroup's limit when lower, as in a Slurm job).
#pragma once
#include <cstdint>

namespace ev {

int usableCpus();                 // >= 1
int64_t availableMemoryBytes();   // 0 if unknown

}  // namespace ev
