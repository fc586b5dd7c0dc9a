#include "mortar_gfapi.h"

#include <errno.h>

static _Thread_local struct mortar_thread_identity thread_identity;
static _Thread_local void *callback_descriptor;

struct mortar_thread_identity *mortar_thread_identity(void) { return &thread_identity; }

void *mortar_current_callback_descriptor(void) { return callback_descriptor; }

void mortar_set_current_callback_descriptor(void *descriptor) { callback_descriptor = descriptor; }

void mortar_set_errno(int value) { errno = value; }
