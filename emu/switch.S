// Minimal x86-64 SysV context switch for the emulator's GPU-thread fibers.
// ucontext's swapcontext makes a sigprocmask system call on every switch;
// this saves only what the ABI says a callee must preserve.
//
//   void emu_switch(void **save_sp, void *new_sp)
// saves the callee-saved registers, MXCSR and the x87 control word on the
// current stack, stores the stack pointer in *save_sp and resumes the context
// whose stack pointer is new_sp.
//
// A fresh fiber's stack is laid out by emu_fiber_prepare (runtime.cc) so that
// the first switch "returns" into emu_fiber_start with the fiber in r12.
	.text
	.globl emu_switch
	.hidden emu_switch
	.type emu_switch,@function
emu_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size emu_switch,.-emu_switch

	.globl emu_fiber_start
	.hidden emu_fiber_start
	.type emu_fiber_start,@function
emu_fiber_start:
	movq %r12, %rdi
	call emu_fiber_main
	ud2
	.size emu_fiber_start,.-emu_fiber_start
	.section .note.GNU-stack,"",@progbits
