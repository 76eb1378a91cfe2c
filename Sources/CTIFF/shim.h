#ifndef TILE_CTIFF_SHIM_H
#define TILE_CTIFF_SHIM_H
#include <tiffio.h>

/* TIFFGetField is variadic, which Swift does not import: typed wrappers for the tags we read. */
static inline int tile_tiff_get_uint32(TIFF *tif, uint32_t tag, uint32_t *value) {
    return TIFFGetField(tif, tag, value);
}
static inline int tile_tiff_get_uint16(TIFF *tif, uint32_t tag, uint16_t *value) {
    return TIFFGetField(tif, tag, value);
}

/* An ASCII tag, whether libtiff reads it as an anonymous field (a uint32 count, then the value: GeoTIFF's
   GeoAsciiParamsTag, 34737, in a process without GeoTIFF's tag extender) or as a known one (the value
   alone: once GDAL has registered libgeotiff's tags). */
static inline int tile_tiff_get_ascii(TIFF *tif, uint32_t tag, const char **value) {
    const TIFFField *field = TIFFFindField(tif, tag, TIFF_ANY);
    if (field == NULL || TIFFFieldDataType(field) != TIFF_ASCII) return 0;
    if (!TIFFFieldPassCount(field)) return TIFFGetField(tif, tag, value);
    if (TIFFFieldReadCount(field) == TIFF_VARIABLE2) {
        uint32_t count = 0;
        return TIFFGetField(tif, tag, &count, value);
    }
    uint16_t count = 0;
    return TIFFGetField(tif, tag, &count, value);
}

/* libtiff prints warnings and errors through process-wide handlers that GDAL also uses. A per-file
   handler keeps the validator quiet without touching those. */
static int tile_tiff_quiet_handler(TIFF *tif, void *user_data, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user_data; (void)module; (void)fmt; (void)ap;
    return 1;
}
static inline TIFF *tile_tiff_open_quietly(const char *path) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, tile_tiff_quiet_handler, NULL);
    TIFFOpenOptionsSetWarningHandlerExtR(options, tile_tiff_quiet_handler, NULL);
    TIFF *tif = TIFFOpenExt(path, "r", options);
    TIFFOpenOptionsFree(options);
    return tif;
}
#endif
