// Injectable wall clock: tests never sleep and never depend on the real date.
#pragma once

#include <cstdint>

namespace uplift {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch, UTC.
  virtual std::int64_t NowUnix() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowUnix() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t now) : now_(now) {}
  std::int64_t NowUnix() const override { return now_; }
  void Set(std::int64_t now) { now_ = now; }
  void Advance(std::int64_t seconds) { now_ += seconds; }

 private:
  std::int64_t now_;
};

}  // namespace uplift
