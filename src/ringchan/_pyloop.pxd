# csrc/ringchan/pyloop.h: the running event loop and unraisable errors,
# read from C.


cdef extern from "ringchan/pyloop.h":
    void rcpy_set_running_loop_getter(object getter)
    object rcpy_running_loop()
    int rcpy_loop_running() except -1
    void rcpy_write_unraisable(object exc, object context)
