// A stage that runs ahead on its own thread: `produce(item)` is called on a worker thread
// until it returns false, its items wait in a bounded queue, and next() hands them out in
// order. An exception in the worker reaches the consumer at next(); destroying the prefetcher
// (on success or when the consumer failed) stops and joins the worker: no stage outlives the run.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace ev {

template <class T>
class Prefetcher {
 public:
  using Produce = std::function<bool(T&)>;
  Prefetcher(Produce produce, size_t depth) : produce_(std::move(produce)), depth_(depth < 1 ? 1 : depth) {
    worker_ = std::thread([this] { run(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The next item; false after the last one. Rethrows the worker's exception.
  bool next(T& item) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (!queue_.empty()) {
      item = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return true;
    }
    if (error_) std::rethrow_exception(error_);
    return false;
  }

 private:
  void run() {
    try {
      for (;;) {
        T item;
        if (!produce_(item)) break;
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return queue_.size() < depth_ || stop_; });
        if (stop_) break;
        queue_.push_back(std::move(item));
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(m_);
    done_ = true;
    cv_.notify_all();
  }

  Produce produce_;
  size_t depth_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<T> queue_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread worker_;
};

}  // namespace ev
