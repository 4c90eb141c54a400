// Tells ThreadSanitizer about abseil's Mutex, CondVar and Notification, which
// Debian's libabsl (built without TSan) does not: linked into the tests of a
// ThreadSanitizer build only (tests/CMakeLists.txt, docs/sanitizers.md).
//
// Without it TSan sees none of the happens-before edges an absl::Mutex makes
// (its lock word and futex live in uninstrumented code) and reports every
// field an ABSL_GUARDED_BY protects as a data race. abseil itself annotates
// these calls when it is compiled with TSan (ABSL_TSAN_MUTEX_* in
// absl/synchronization/mutex.cc); this file adds the same annotations around
// the library's functions instead: each is defined here, tells TSan what it
// does and calls the library's definition (found with dlsym(RTLD_NEXT)). As
// in abseil's own annotations, what happens inside the library call (e.g. a
// waiter's Condition run by another thread) is ignored, and a wait on a
// CondVar or a Condition is an unlock followed by a lock.
// Only what camserve calls is covered; Notification::HasBeenNotified (inline,
// an atomic in the library) is not.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#if !defined(ABSL_HAVE_THREAD_SANITIZER)
#error "absl_sync_tsan_annotations.cc belongs in a -fsanitize=thread build only"
#endif

namespace {

enum class Member { kNonConst, kConst };

// The library's definition of an absl function: `name` is its mangled name
// after "absl::" and abseil's inline namespace, e.g. "5Mutex4LockEv".
template <typename Function>
Function Real(const char* name, Member member = Member::kNonConst) {
  std::string mangled = member == Member::kConst ? "_ZNK4absl" : "_ZN4absl";
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const char* inline_namespace = ABSL_INTERNAL_TOKEN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  mangled += std::to_string(std::strlen(inline_namespace)) + inline_namespace;
#endif
  mangled += name;
  void* function = dlsym(RTLD_NEXT, mangled.c_str());
  if (function == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan_annotations: %s not found in libabsl\n", mangled.c_str());
    std::abort();
  }
  return reinterpret_cast<Function>(function);
}

constexpr unsigned kRead = __tsan_mutex_read_lock;

// The library calls its own exported functions (WaitWithTimeout calls
// WaitWithDeadline, ...), and those calls land here too: only the outermost
// call of a thread is annotated.
thread_local int annotated_calls = 0;

// Annotates the outermost call: `before`, the call with what it does inside
// ignored, `after`.
template <typename Call, typename Before, typename After>
auto Annotated(Before before, Call call, After after) {
  if (annotated_calls > 0) return call();
  ++annotated_calls;
  before();
  auto result = call();
  after(result);
  --annotated_calls;
  return result;
}

// Around a call that acquires `mu`.
template <typename Call>
auto Locking(const void* mu, unsigned flags, Call call) {
  void* m = const_cast<void*>(mu);
  return Annotated([&] { __tsan_mutex_pre_lock(m, flags); }, call, [&](auto) { __tsan_mutex_post_lock(m, flags, 0); });
}

// Around a call that releases `mu`.
template <typename Call>
auto Unlocking(const void* mu, unsigned flags, Call call) {
  void* m = const_cast<void*>(mu);
  return Annotated([&] { __tsan_mutex_pre_unlock(m, flags); }, call, [&](auto) { __tsan_mutex_post_unlock(m, flags); });
}

// Around a call that releases `mu`, waits, and acquires it again.
template <typename Call>
auto Waiting(const void* mu, unsigned flags, Call call) {
  void* m = const_cast<void*>(mu);
  return Annotated(
      [&] {
        __tsan_mutex_pre_unlock(m, flags);
        __tsan_mutex_post_unlock(m, flags);
        __tsan_mutex_pre_lock(m, flags);
      },
      call, [&](auto) { __tsan_mutex_post_lock(m, flags, 0); });
}

// Around a call that may acquire `mu` and says whether it did.
template <typename Call>
bool TryLocking(const void* mu, unsigned flags, Call call) {
  void* m = const_cast<void*>(mu);
  const unsigned try_flags = flags | __tsan_mutex_try_lock;
  return Annotated(
      [&] { __tsan_mutex_pre_lock(m, try_flags); }, call,
      [&](bool locked) { __tsan_mutex_post_lock(m, try_flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0); });
}

using MutexCall = void (*)(absl::Mutex*);
using MutexTry = bool (*)(absl::Mutex*);
using MutexWhen = void (*)(absl::Mutex*, const absl::Condition&);
using MutexWhenFor = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using MutexWhenUntil = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using CondVarWait = void (*)(absl::CondVar*, absl::Mutex*);
using CondVarWaitFor = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using CondVarWaitUntil = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);
using NotificationCall = void (*)(absl::Notification*);
using NotificationWait = void (*)(const absl::Notification*);
using NotificationWaitFor = bool (*)(const absl::Notification*, absl::Duration);
using NotificationWaitUntil = bool (*)(const absl::Notification*, absl::Time);

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static const auto real = Real<MutexCall>("5MutexD1Ev");
  __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  static const auto real = Real<MutexCall>("5Mutex4LockEv");
  Locking(this, 0, [&] { return (real(this), true); });
}

void Mutex::ReaderLock() {
  static const auto real = Real<MutexCall>("5Mutex10ReaderLockEv");
  Locking(this, kRead, [&] { return (real(this), true); });
}

void Mutex::Unlock() {
  static const auto real = Real<MutexCall>("5Mutex6UnlockEv");
  Unlocking(this, 0, [&] { return (real(this), true); });
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<MutexCall>("5Mutex12ReaderUnlockEv");
  Unlocking(this, kRead, [&] { return (real(this), true); });
}

bool Mutex::TryLock() {
  static const auto real = Real<MutexTry>("5Mutex7TryLockEv");
  return TryLocking(this, 0, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<MutexTry>("5Mutex13ReaderTryLockEv");
  return TryLocking(this, kRead, [&] { return real(this); });
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<MutexWhen>("5Mutex8LockWhenERKNS0_9ConditionE");
  Locking(this, 0, [&] { return (real(this, cond), true); });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<MutexWhen>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Locking(this, kRead, [&] { return (real(this, cond), true); });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<MutexWhenFor>("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Locking(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<MutexWhenUntil>("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Locking(this, 0, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Real<MutexWhen>("5Mutex5AwaitERKNS0_9ConditionE");
  Waiting(this, 0, [&] { return (real(this, cond), true); });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<MutexWhenFor>("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Waiting(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<MutexWhenUntil>("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Waiting(this, 0, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<CondVarWait>("7CondVar4WaitEPNS0_5MutexE");
  Waiting(mu, 0, [&] { return (real(this, mu), true); });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<CondVarWaitFor>("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return Waiting(mu, 0, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<CondVarWaitUntil>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Waiting(mu, 0, [&] { return real(this, mu, deadline); });
}

// What the notifier did before Notify happens before what a waiter does
// after a wait that saw it.
void Notification::Notify() {
  static const auto real = Real<NotificationCall>("12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real = Real<NotificationWait>("12Notification19WaitForNotificationEv", Member::kConst);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const auto real =
      Real<NotificationWaitFor>("12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", Member::kConst);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real =
      Real<NotificationWaitUntil>("12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", Member::kConst);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
