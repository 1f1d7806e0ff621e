/* CRC32C (Castagnoli), as used by iSCSI, ext4 and many log formats. Software, table driven. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Continues crc over data; start with 0. sr_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t sr_crc32c(uint32_t crc, const void *data, size_t len);
