/**
 * images/: CRIU's image format. Magics and file names, our protobuf schema of the messages, the image
 * file codec (header words + length-framed entries), pagemap writing and reading, image directories with
 * `parent` chains, and page lookup along those chains.
 *
 * @example
 * using d = ImageDir.create('/ckpt/pre1');
 * d.pagemapWriter(pid).addPages(0x400000, 1, page);
 * d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ));
 * d.commit();
 * resolvePage('/ckpt/pre1', pid, 0x400000); // the page
 */

export * from './bigint-codec.js';
export * from './chain-index.js';
export * from './codec-warmup.js';
export * from './core-schema.js';
export * from './errors.js';
export * from './image-dir.js';
export * from './image-file.js';
export * from './image-set-check.js';
export * from './inventory.js';
export * from './irmap-cache.js';
export * from './magics.js';
export * from './page-chain.js';
export * from './pagemap.js';
export * from './pagemap-reader.js';
export * from './pagemap-writer.js';
export * from './pseudo-fs.js';
export * from './schema.js';
export * from './stats.js';
export * from './task-schema.js';
export * from './temp-file.js';
