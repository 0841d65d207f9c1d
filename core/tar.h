/* A streaming tar reader: bytes in (in any pieces), entries and their data
 * out through callbacks. No I/O, so it can be fuzzed and unit-tested.
 *
 * Formats read: POSIX ustar (name + prefix), old v7 headers, GNU long
 * names and link names ('L', 'K'), pax extended headers ('x': path,
 * linkpath, size) and base-256 sizes. pax global headers ('g') are
 * skipped. GNU sparse files ('S', or pax GNU.sparse.*) and multi-volume
 * entries are refused: they describe data that is not in the stream.
 *
 * Bounds: names and link names of at most TAR_MAX_PATH - 1 bytes, pax
 * headers of at most TAR_MAX_PAX bytes, and every header's checksum is
 * verified. The reader does not judge paths (.., absolute, whiteouts):
 * that is the unpacker's job (unpack.h). */
#ifndef COMPAT_TAR_H
#define COMPAT_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TAR_MAX_PATH 4096
#define TAR_MAX_PAX (64u << 10)

enum tar_type {
	TAR_FILE = '0',
	TAR_HARDLINK = '1',
	TAR_SYMLINK = '2',
	TAR_CHAR = '3',
	TAR_BLOCK = '4',
	TAR_DIR = '5',
	TAR_FIFO = '6',
};

struct tar_entry {
	char path[TAR_MAX_PATH];	/* as stored (pax/GNU long name applied) */
	char linkpath[TAR_MAX_PATH];	/* hard and symbolic links */
	int type;			/* enum tar_type ('\0' and '7' read as TAR_FILE) */
	uint32_t mode;			/* permission bits as stored (07777) */
	uint64_t size;			/* data bytes that follow (files only) */
};

struct tar_callbacks {
	/* An entry's header; its data (size bytes) follows through data().
	 * Return 0 or a negative COMPAT_E* code (filling err) to stop. */
	int (*entry)(void *ctx, const struct tar_entry *e, struct cerr *err);
	/* A piece of the current entry's data, in order. */
	int (*data)(void *ctx, const uint8_t *p, size_t n, struct cerr *err);
};

struct tar_reader {
	const struct tar_callbacks *cb;
	void *ctx;
	int state;		/* internal */
	uint8_t block[512];	/* header being gathered */
	size_t have;		/* bytes of block gathered */
	uint64_t left;		/* data bytes left in the current entry */
	uint64_t pad;		/* padding bytes left after it */
	int meta;		/* the data being read is a 'L', 'K', 'x' or 'g' record */
	char *meta_buf;		/* its bytes (bounded) */
	size_t meta_len;
	char long_name[TAR_MAX_PATH], long_link[TAR_MAX_PATH];
	char pax_path[TAR_MAX_PATH], pax_link[TAR_MAX_PATH];
	uint64_t pax_size;
	int have_long_name, have_long_link, have_pax_path, have_pax_link, have_pax_size;
	int zero_blocks;	/* consecutive all-zero headers seen */
	uint64_t entries;	/* headers read, meta records included */
	uint64_t offset;	/* bytes consumed, for messages */
	struct tar_entry e;
};

/* Start reading; cb and ctx must outlive the reader. */
void tar_reader_init(struct tar_reader *t, const struct tar_callbacks *cb, void *ctx);

/* Feed the next bytes of the archive. Returns 0 (more wanted), 1 (the
 * end-of-archive blocks were read: later bytes are only checked to be
 * zero padding), or COMPAT_EINVAL (malformed: bad checksum, bad number,
 * name too long, unsupported entry) / whatever a callback returned. */
int tar_reader_feed(struct tar_reader *t, const uint8_t *buf, size_t len, struct cerr *err);

/* The stream ended: 0 when it ended between entries (with or without the
 * end-of-archive blocks), COMPAT_EINVAL when inside an entry. */
int tar_reader_finish(struct tar_reader *t, struct cerr *err);

void tar_reader_free(struct tar_reader *t);

#endif
