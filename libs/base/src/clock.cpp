#include "uplift/base/clock.hpp"

#include <chrono>

namespace uplift {

std::int64_t SystemClock::NowUnix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace uplift
