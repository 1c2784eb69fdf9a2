/** ckpt: process memory checkpointing, CRIU-compatible. */
export const VERSION = '0.1.0';
