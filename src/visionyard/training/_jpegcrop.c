/* Decode only a rectangle of a JPEG: libjpeg-turbo's partial decompression.
 *
 * A random-resized crop keeps on average about half of a photo. Decoding the whole file and
 * throwing the rest away spends most of the data pipeline's time on pixels nobody sees. Here
 * the rows below the crop are never read, the rows above it are skipped (entropy-decoded only,
 * no inverse DCT, upsampling or colour conversion: jpeg_skip_scanlines), and the columns left
 * and right of it are left out of every decoded row (jpeg_crop_scanline), so the cost falls
 * roughly with the crop's area. The pixels are the ones a full decode gives for that
 * rectangle (tests/training/test_jpeg_crop.py compares them).
 *
 * Optionally the image is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling: a
 * smaller inverse DCT per block, which also shrinks upsampling and colour conversion); the
 * rectangle is then in the reduced image's pixels.
 *
 * Any error, and any warning (libjpeg warns about corrupt data and carries on), fails the call
 * with libjpeg's message: the caller then decodes the file in full the usual way, which decides
 * what a damaged file becomes. The GIL is released while decoding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* Columns decoded beyond each side of the rectangle (where the image has them). Chroma
 * upsampling reads one chroma sample either side, 2 pixels wide at 2x horizontal subsampling. */
#define EDGE_MARGIN 2

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
} ErrorTrap;

static void trap_error(j_common_ptr cinfo) {
    ErrorTrap *trap = (ErrorTrap *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, trap->message);
    longjmp(trap->escape, 1);
}

static void trap_warning(j_common_ptr cinfo, int msg_level) {
    /* msg_level < 0 is a warning about the data (e.g. a premature end of file); trace messages
     * (>= 0) are ignored, as libjpeg's default does at its default trace level. */
    if (msg_level < 0) {
        trap_error(cinfo);
    }
}

typedef enum { DECODED = 0, LIBJPEG_FAILED, BOX_OUTSIDE, NO_MEMORY } Outcome;

static Outcome decode_rectangle(const unsigned char *jpeg, size_t jpeg_size, int top, int left,
                                int height, int width, int scale_denom, unsigned char *out,
                                char *message) {
    struct jpeg_decompress_struct cinfo;
    ErrorTrap trap;
    /* volatile: assigned between setjmp and a possible longjmp, read after it */
    unsigned char *volatile row = NULL;
    volatile Outcome outcome = DECODED;

    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&trap.pub);
    trap.pub.error_exit = trap_error;
    trap.pub.emit_message = trap_warning;
    trap.message[0] = '\0';

    if (setjmp(trap.escape)) {
        outcome = LIBJPEG_FAILED;
        strncpy(message, trap.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = '\0';
    } else {
        jpeg_create_decompress(&cinfo);
        jpeg_mem_src(&cinfo, jpeg, (unsigned long)jpeg_size);
        jpeg_read_header(&cinfo, TRUE);
        cinfo.out_color_space = JCS_RGB; /* greyscale and YCbCr both convert; CMYK fails */
        cinfo.scale_num = 1;
        cinfo.scale_denom = (unsigned int)scale_denom;
        jpeg_start_decompress(&cinfo);
        if (top < 0 || left < 0 || height <= 0 || width <= 0 ||
            (JDIMENSION)top + (JDIMENSION)height > cinfo.output_height ||
            (JDIMENSION)left + (JDIMENSION)width > cinfo.output_width) {
            outcome = BOX_OUTSIDE;
        } else {
            /* Decode a little more than asked and keep the asked columns: upsampled chroma
             * treats the decoded range's edges as the image's, so a column at an edge of the
             * range would differ from the full decode's (EDGE_MARGIN). jpeg_crop_scanline then
             * widens the range further, to whole iMCU columns on the left. */
            JDIMENSION first_column = (JDIMENSION)(left > EDGE_MARGIN ? left - EDGE_MARGIN : 0);
            JDIMENSION last_column = (JDIMENSION)left + (JDIMENSION)width + EDGE_MARGIN;
            if (last_column > cinfo.output_width) {
                last_column = cinfo.output_width;
            }
            JDIMENSION columns = last_column - first_column;
            jpeg_crop_scanline(&cinfo, &first_column, &columns);
            size_t row_bytes = (size_t)cinfo.output_width * 3;
            size_t lead = ((size_t)left - first_column) * 3;
            size_t out_row = (size_t)width * 3;
            row = malloc(row_bytes);
            if (row == NULL) {
                outcome = NO_MEMORY;
            } else {
                if (top > 0) {
                    jpeg_skip_scanlines(&cinfo, (JDIMENSION)top);
                }
                JSAMPROW rows[1] = {row};
                for (int y = 0; y < height; y++) {
                    jpeg_read_scanlines(&cinfo, rows, 1);
                    memcpy(out + (size_t)y * out_row, row + lead, out_row);
                }
            }
        }
    }
    free(row);
    /* Without jpeg_finish_decompress: the rows below the rectangle are never decoded. */
    jpeg_destroy_decompress(&cinfo);
    return outcome;
}

static PyObject *decode_crop(PyObject *self, PyObject *args) {
    Py_buffer jpeg, out;
    int top, left, height, width;
    int scale_denom = 1;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iiiiw*|i", &jpeg, &top, &left, &height, &width, &out,
                          &scale_denom)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8) {
        PyErr_Format(PyExc_ValueError, "scale_denom must be 1, 2, 4 or 8, got %d", scale_denom);
    } else if (height <= 0 || width <= 0 || out.len < (Py_ssize_t)height * width * 3) {
        PyErr_Format(PyExc_ValueError,
                     "the output buffer holds %zd bytes, a %dx%d RGB rectangle needs %zd",
                     out.len, height, width, (Py_ssize_t)height * width * 3);
    } else {
        char message[JMSG_LENGTH_MAX] = "";
        Outcome outcome;
        Py_BEGIN_ALLOW_THREADS
        outcome = decode_rectangle((const unsigned char *)jpeg.buf, (size_t)jpeg.len, top, left,
                                   height, width, scale_denom, (unsigned char *)out.buf, message);
        Py_END_ALLOW_THREADS
        switch (outcome) {
        case DECODED:
            result = Py_NewRef(Py_None);
            break;
        case BOX_OUTSIDE:
            PyErr_Format(PyExc_ValueError,
                         "the rectangle (top %d, left %d, %dx%d) is not inside the image", top,
                         left, height, width);
            break;
        case NO_MEMORY:
            PyErr_NoMemory();
            break;
        default:
            PyErr_SetString(PyExc_ValueError, message);
        }
    }
    PyBuffer_Release(&jpeg);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_crop", decode_crop, METH_VARARGS,
     "decode_crop(jpeg, top, left, height, width, out, scale_denom=1) -> None\n\n"
     "Decode the rectangle of a JPEG (stored orientation) into `out`, a writable buffer of at "
     "least height*width*3 bytes, as RGB rows (HWC). With scale_denom 2, 4 or 8 the image is "
     "decoded at that fraction of its size and the rectangle is in its pixels. ValueError on "
     "any libjpeg error or warning or a rectangle outside the (reduced) image."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jpegcrop",
    "Partial JPEG decoding with libjpeg-turbo (see jpeg_crop.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jpegcrop(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "LIBJPEG_VERSION", JPEG_LIB_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
