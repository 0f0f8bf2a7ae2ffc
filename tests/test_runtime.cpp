// The executables run on jemalloc with page purging off (src/runtime/malloc_conf.cpp): without
// it, LibTorch's large tensors are mmap'd and page-faulted in again on every pass.
// A build without jemalloc (EV_JEMALLOC=OFF, or the sanitizer build EV_SANITIZE=ON, whose
// allocator is ASan's) defines EV_WITHOUT_JEMALLOC as the reason, and these tests skip with it.
#include <gtest/gtest.h>
#ifndef EV_WITHOUT_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <sys/resource.h>

#include <cstring>
#include <vector>

TEST(Runtime, JemallocIsTheAllocatorAndKeepsFreedPages) {
#ifdef EV_WITHOUT_JEMALLOC
  GTEST_SKIP() << "no jemalloc: " EV_WITHOUT_JEMALLOC;
#else
  ssize_t decay = 0;
  size_t len = sizeof decay;
  ASSERT_EQ(mallctl("opt.dirty_decay_ms", &decay, &len, nullptr, 0), 0) << "jemalloc is not linked";
  EXPECT_EQ(decay, -1);
  ASSERT_EQ(mallctl("opt.muzzy_decay_ms", &decay, &len, nullptr, 0), 0);
  EXPECT_EQ(decay, -1);
#endif
}

TEST(Runtime, ReallocatingALargeBlockDoesNotFaultItsPagesInAgain) {
#ifdef EV_WITHOUT_JEMALLOC
  GTEST_SKIP() << "no jemalloc (glibc's and ASan's allocators give large blocks back): " EV_WITHOUT_JEMALLOC;
#endif
  const size_t bytes = size_t(64) << 20;  // a 64 MB tensor's worth
  auto touch = [&] {
    std::vector<char>* v = new std::vector<char>(bytes);  // zero-filled: every page written
    std::memset(v->data(), 1, bytes);
    delete v;
  };
  touch();  // first use may fault
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  for (int i = 0; i < 5; ++i) touch();
  getrusage(RUSAGE_SELF, &after);
  const long faults = after.ru_minflt - before.ru_minflt;
  // glibc would fault all 16,384 pages in again on each of the 5 rounds (81,920 faults).
  EXPECT_LT(faults, 2000) << faults << " minor faults";
}
