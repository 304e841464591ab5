// The launch side of the kernel table (included by the generated unit after
// every kernel): EMU_KERNEL(name) records the kernel's name, its argument
// count and a trampoline that unpacks cuLaunchKernel's kernelParams (an array
// of pointers to the argument values) by the kernel's own parameter types.
// Every parameter is 8 bytes (kernels/common.cuh's convention); the
// static_assert below fails the build of a kernel that breaks it, since the
// Go launcher could not pass its arguments either.
#pragma once
#include <string.h>
#include <utility>
#include "emu/runtime.h"

template <typename T>
static __forceinline__ T emu_arg(void* p) {
    T v;
    memcpy(&v, p, sizeof(T));
    return v;
}

template <typename F>
struct EmuInvoke;

template <typename... A>
struct EmuInvoke<void (*)(A...)> {
    static_assert(sizeof...(A) == 0 || ((sizeof(A) == 8) && ...),
                  "every kernel parameter must be 8 bytes (pointer, long long or double): see kernels/common.cuh");
    template <size_t... I>
    static void call(void (*f)(A...), void** p, std::index_sequence<I...>) {
        f(emu_arg<A>(p[I])...);
    }
    static void run(void* f, void** params) {
        call(reinterpret_cast<void (*)(A...)>(f), params, std::index_sequence_for<A...>{});
    }
    static constexpr int nargs = sizeof...(A);
};

#define EMU_KERNEL(name) \
    EmuKernel { #name, reinterpret_cast<void*>(&name), &EmuInvoke<decltype(&name)>::run, EmuInvoke<decltype(&name)>::nargs }

#define EMU_DEFINE_TABLE(list, reset)                                                     \
    extern "C" const EmuKernel* emu_kernel_table(int* n) {                               \
        *n = (int)(sizeof(list) / sizeof(list[0]));                                      \
        return list;                                                                     \
    }                                                                                    \
    extern "C" void emu_reset_dynamic_shared(size_t bytes) { reset(bytes); }
