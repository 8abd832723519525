"""The cheap inspect.stack used while TVM's tensor intrinsics are imported: the same frames, the same
source lines where TVMScript's parser reads them, and prim_funcs parse to the same IR."""

import inspect

from edgebuild.compile import tvmscript


def test_stack_has_the_same_frames_and_the_first_source_lines():
    def inner():
        return inspect.stack(), tvmscript.stack()

    real, cheap = inner()
    assert [f.frame for f in cheap][: len(real)] == [f.frame for f in real][: len(cheap)]
    assert len(cheap) == len(real)
    for r, c in zip(real[: tvmscript.EXACT_FRAMES], cheap):
        assert (c.filename, c.lineno, c.function, c.code_context, c.index) == \
               (r.filename, r.lineno, r.function, r.code_context, r.index)
    assert [(f.lineno, f.function) for f in cheap] == [(f.lineno, f.function) for f in real]


def test_a_prim_func_with_a_closure_variable_parses_the_same_under_the_cheap_stack():
    import tvm
    from tvm.script import tirx as T

    def make():
        n = 16  # captured from the enclosing scope, which the parser finds through the stack

        @T.prim_func
        def add_one(a: T.Buffer((n,), "float32"), b: T.Buffer((n,), "float32")):
            for i in range(n):
                b[i] = a[i] + T.float32(1)

        return add_one

    plain = make()
    with tvmscript._cheap_stack():
        cheap = make()
    tvm.ir.assert_structural_equal(plain, cheap)
    assert inspect.stack.__module__ == "inspect"  # put back
