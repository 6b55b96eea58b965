/*
 * Entry point and exception vectors of the irqlab QEMU peer (bare metal, AArch64).
 *
 * QEMU's virt machine enters at EL1 (or EL2 with virtualization=on) with the MMU and
 * the caches off and DAIF masked: interrupts are never taken, the program polls.  A
 * synchronous exception (an UNDEFINED system register access, an external abort) is
 * recorded by exc_record() and the faulting instruction is skipped.
 */
    .section .text.boot, "ax"
    .global _start
_start:
    mrs     x0, mpidr_el1
    and     x0, x0, #0xffffff
    cbnz    x0, park                    /* only CPU 0 starts here (others: PSCI CPU_ON) */
    ldr     x0, =__stack_top
    mov     sp, x0
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    cmp     x0, #2
    b.ne    1f
    adr     x1, vectors
    msr     vbar_el2, x1
    b       2f
1:  adr     x1, vectors
    msr     vbar_el1, x1
2:  isb
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
3:  cmp     x1, x2
    b.hs    4f
    str     xzr, [x1], #8
    b       3b
4:  bl      main
park:
    wfe
    b       park

/* A secondary CPU, started by PSCI CPU_ON: its own stack, vectors, then secondary_main. */
    .global secondary_entry
secondary_entry:
    mrs     x1, mpidr_el1
    and     x2, x1, #0xff                /* Aff0 */
    ubfx    x3, x1, #8, #8               /* Aff1: virt packs 16 CPUs per cluster */
    add     x1, x2, x3, lsl #4           /* the CPU's index */
    ldr     x2, =__sec_stacks
    add     x1, x1, #1
    add     x2, x2, x1, lsl #13          /* 8 KiB per CPU */
    mov     sp, x2
    adr     x1, vectors
    mrs     x0, CurrentEL
    cmp     x0, #8
    b.ne    8f
    msr     vbar_el2, x1
    b       9f
8:  msr     vbar_el1, x1
9:  isb
    bl      secondary_main
    b       park

/* OTHER_ENTRY: an exception the program does not expect (IRQs stay masked). */
.macro OTHER_ENTRY kind
    mov     x0, #\kind
    bl      exc_unexpected
    b       park
.endm

    .balign 2048
vectors:
    /* current EL with SP0 */
    .balign 128
    OTHER_ENTRY 0
    .balign 128
    OTHER_ENTRY 1
    .balign 128
    OTHER_ENTRY 2
    .balign 128
    OTHER_ENTRY 3
    /* current EL with SPx */
    .balign 128
    b       sync_cur
    .balign 128
    OTHER_ENTRY 5
    .balign 128
    OTHER_ENTRY 6
    .balign 128
    OTHER_ENTRY 7
    /* lower EL, AArch64 */
    .balign 128
    b       lower_sync
    .balign 128
    OTHER_ENTRY 9
    .balign 128
    OTHER_ENTRY 10
    .balign 128
    OTHER_ENTRY 11
    /* lower EL, AArch32 */
    .balign 128
    OTHER_ENTRY 12
    .balign 128
    OTHER_ENTRY 13
    .balign 128
    OTHER_ENTRY 14
    .balign 128
    OTHER_ENTRY 15

/*
 * enter_el1(hcr, start): run the script from index ``start`` at EL1 with HCR_EL2 = hcr
 * (plus RW: EL1 is AArch64), on its own stack, until el1_loop returns; its HVC #1 brings
 * the returned index back here, at EL2.  Only called at EL2.
 */
    .global enter_el1
enter_el1:
    stp     x29, x30, [sp, #-96]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    orr     x0, x0, #(1 << 31)
    msr     hcr_el2, x0
    ldr     x9, =__stack1_top
    msr     sp_el1, x9
    adr     x9, vectors
    msr     vbar_el1, x9
    mov     x9, #0x3c5                  /* EL1h, DAIF masked */
    msr     spsr_el2, x9
    adr     x9, el1_entry
    msr     elr_el2, x9
    mov     x0, x1
    isb
    eret
el1_entry:
    bl      el1_loop
    hvc     #1
    b       park

/*
 * A synchronous exception from EL1 taken to EL2: HVC #1 returns from enter_el1 (SP_EL2
 * still holds enter_el1's frame); anything else (a trapped system register access) is
 * recorded, flagged as taken to EL2, and skipped.
 */
lower_sync:
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    mrs     x1, esr_el2
    lsr     x1, x1, #26
    cmp     x1, #0x16
    b.ne    7f
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #192
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret
7:  stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    mrs     x0, esr_el2
    orr     x0, x0, #(1 << 62)          /* taken to EL2 */
    bl      exc_record
    mrs     x0, elr_el2
    add     x0, x0, #4
    msr     elr_el2, x0
    b       6f

/* Save the caller-saved registers, record the syndrome, skip the instruction. */
sync_cur:
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    mrs     x1, CurrentEL
    cmp     x1, #8
    b.eq    5f
    mrs     x0, esr_el1
    bl      exc_record
    mrs     x0, elr_el1
    add     x0, x0, #4
    msr     elr_el1, x0
    b       6f
5:  mrs     x0, esr_el2
    bl      exc_record
    mrs     x0, elr_el2
    add     x0, x0, #4
    msr     elr_el2, x0
6:  ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #192
    eret
