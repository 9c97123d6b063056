namespace Mixer.Lang;

/// <summary>How <see cref="ExpressionCompiler"/> turns a checked expression into code.</summary>
public enum CompilationMode
{
    /// <summary>
    /// Usable at once through an interpreter, and compiled to IL on a background thread, which
    /// replaces the interpreter when ready (as .NET's tiered JIT does). A config with thousands of
    /// expressions loads in a fraction of the IL compile time; steady state runs compiled code.
    /// </summary>
    Tiered = 0,

    /// <summary>Compiled to IL before <see cref="ExpressionCompiler.Compile"/> returns (about a millisecond each).</summary>
    Immediate = 1,

    /// <summary>Interpreted only: cheapest to make, slowest to run (for one-off evaluation).</summary>
    Interpreted = 2,
}
