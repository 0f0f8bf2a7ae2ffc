// Deterministic shards of an input list, from --shard or from the job array's environment.
#include <cstdlib>
#include <string>

#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "util/plural.hpp"

namespace ev {
namespace {

bool parseInt(const std::string& s, long long& v) {
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  v = std::stoll(s);
  return true;
}

}  // namespace

ShardSpec parseShard(const std::string& text, const std::string& flag) {
  const auto slash = text.find('/');
  long long k = 0, n = 0;
  if (slash == std::string::npos || !parseInt(text.substr(0, slash), k) || !parseInt(text.substr(slash + 1), n) ||
      n < 1 || n > 1000000 || k >= n)
    throw Error(ErrorKind::Usage, flag + " '" + text + "': expected K/N with 0 <= K < N (K counted from 0), e.g. 0/4");
  ShardSpec s;
  s.index = static_cast<int>(k);
  s.count = static_cast<int>(n);
  s.source = "--shard";
  return s;
}

ShardSpec resolveShard(const std::string& shardFlag, int shards, const EnvReader& env) {
  if (!shardFlag.empty()) {
    ShardSpec s = parseShard(shardFlag);
    if (shards > 0 && shards != s.count)
      throw Error(ErrorKind::Usage, "--shard " + shardFlag + " and --shards " + std::to_string(shards) + " disagree");
    return s;
  }
  auto get = [&](const char* name) -> std::string {
    const char* v = env ? env(name) : nullptr;
    return v ? std::string(v) : std::string();
  };
  const std::string id = get("SLURM_ARRAY_TASK_ID");
  if (!id.empty()) {
    long long k = 0, lo = 0, n = 0;
    const std::string minS = get("SLURM_ARRAY_TASK_MIN"), countS = get("SLURM_ARRAY_TASK_COUNT");
    if (!parseInt(id, k) || !parseInt(minS.empty() ? "0" : minS, lo) || !parseInt(countS, n) || n < 1 || k < lo ||
        k - lo >= n)
      throw Error(ErrorKind::Usage, "Slurm array task: SLURM_ARRAY_TASK_ID=" + id + ", SLURM_ARRAY_TASK_MIN=" + minS +
                                        ", SLURM_ARRAY_TASK_COUNT=" + countS +
                                        " do not give a shard (submit a contiguous array, e.g. --array=0-3, or pass --shard K/N)");
    if (shards > 0 && shards != n)
      throw Error(ErrorKind::Usage, "--shards " + std::to_string(shards) + " but the Slurm array has " +
                                        plural(n, "task"));
    ShardSpec s;
    s.index = static_cast<int>(k - lo);
    s.count = static_cast<int>(n);
    s.source = "SLURM_ARRAY_TASK_ID";
    return s;
  }
  const std::string job = get("JOB_COMPLETION_INDEX");
  if (!job.empty()) {
    long long k = 0;
    if (shards < 1)
      throw Error(ErrorKind::Usage, "JOB_COMPLETION_INDEX=" + job +
                                        " (a Kubernetes Indexed Job): give the job's completions with --shards N");
    if (!parseInt(job, k) || k >= shards)
      throw Error(ErrorKind::Usage, "JOB_COMPLETION_INDEX=" + job + " is not an index below --shards " +
                                        std::to_string(shards));
    ShardSpec s;
    s.index = static_cast<int>(k);
    s.count = shards;
    s.source = "JOB_COMPLETION_INDEX";
    return s;
  }
  if (shards > 0)
    throw Error(ErrorKind::Usage, "--shards " + std::to_string(shards) +
                                      " needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or --shard K/N");
  return ShardSpec{};
}

std::string indexFileName(const ShardSpec& s) {
  if (!s.sharded()) return "index.csv";
  return "index.shard-" + std::to_string(s.index) + "-of-" + std::to_string(s.count) + ".csv";
}

}  // namespace ev
