using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using Mixer.Sdk;

namespace Mixer.Adapters.Script;

/// <summary>
/// Compiles one script with the Roslyn compiler (not the scripting API, whose assemblies can never
/// be unloaded) into an assembly loaded in its own collectible <see cref="AssemblyLoadContext"/>:
/// wrap, parse, check the shape, bind, check what it uses, instrument, emit, load.
/// </summary>
internal static class ScriptCompiler
{
    // Report at most this many problems per script: the first few say what is wrong.
    private const int MaxProblems = 10;

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    private static readonly CSharpCompilationOptions Options = new(
        OutputKind.DynamicallyLinkedLibrary,
        optimizationLevel: OptimizationLevel.Release,
        allowUnsafe: false,
        nullableContextOptions: NullableContextOptions.Disable,
        concurrentBuild: false,
        deterministic: true);

    public static CompiledScript Compile(ScriptTemplate template, string source, string hash)
    {
        var started = Stopwatch.GetTimestamp();
        var problems = new List<ScriptDiagnostic>();
        var counters = new List<(string Name, int Line)>();
        var text = ScriptSource.Wrap(template, source);
        var tree = CSharpSyntaxTree.ParseText(SourceText.From(text, Encoding.UTF8), ScriptSource.ParseOptions, path: "script.cs");
        var unit = (CompilationUnitSyntax)tree.GetRoot();

        var syntaxErrors = tree.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (syntaxErrors.Count > 0)
        {
            problems.AddRange(syntaxErrors.Take(MaxProblems).Select(Describe));
            return CompiledScript.Failed(hash, problems, Stopwatch.GetElapsedTime(started));
        }

        if (!ScriptSource.HasExpectedShape(unit, out var method))
        {
            problems.Add(new ScriptDiagnostic(0, 0, "a script is a C# expression or the statements of a method body; it cannot close the method's braces, declare types or members, or use preprocessor directives"));
            return CompiledScript.Failed(hash, problems, Stopwatch.GetElapsedTime(started));
        }

        var assemblyName = "MixerScript_" + template.Name + "_" + hash;
        var compilation = CSharpCompilation.Create(assemblyName, [tree], References.Value, Options);
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
        {
            problems.AddRange(errors.Take(MaxProblems).Select(Describe));
            return CompiledScript.Failed(hash, problems, Stopwatch.GetElapsedTime(started));
        }

        var model = compilation.GetSemanticModel(tree);
        problems.AddRange(ScriptPolicy.Check(model, method!.Body!, counters).Take(MaxProblems));
        if (problems.Count > 0)
        {
            return CompiledScript.Failed(hash, problems, Stopwatch.GetElapsedTime(started));
        }

        var instrumented = new BudgetRewriter(model).Visit(unit);
        var instrumentedTree = CSharpSyntaxTree.Create((CSharpSyntaxNode)instrumented, ScriptSource.ParseOptions, tree.FilePath, Encoding.UTF8);
        compilation = compilation.ReplaceSyntaxTree(tree, instrumentedTree);

        using var pe = new MemoryStream();
        var emitted = compilation.Emit(pe);
        if (!emitted.Success)
        {
            // The script bound before it was instrumented: this is our fault, not the operator's; say so.
            var first = emitted.Diagnostics.First(d => d.Severity == DiagnosticSeverity.Error);
            problems.Add(new ScriptDiagnostic(0, 0, $"the script compiled but could not be instrumented with its time budget ({first.Id}: {first.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}); please report this script"));
            return CompiledScript.Failed(hash, problems, Stopwatch.GetElapsedTime(started));
        }

        pe.Position = 0;
        var context = new ScriptLoadContext(assemblyName);
        var assembly = context.LoadFromStream(pe);
        var type = assembly.GetType(ScriptSource.Namespace + "." + ScriptSource.ClassName, throwOnError: true)!;
        return new CompiledScript(hash, [], counters, type, context, Stopwatch.GetElapsedTime(started));
    }

    private static ScriptDiagnostic Describe(Diagnostic d)
    {
        var (line, column) = ScriptDiagnostic.Position(d.Location);
        var message = $"{d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
        if (line == 0)
        {
            // Outside the script's own lines: the wrapper around it, which means the script as a whole.
            message = d.Id switch
            {
                "CS0161" => "not every path of the script returns a CheckResult (end it with, e.g., return Ok();)",
                "CS1513" => "a '}' is missing at the end of the script",
                _ => message + " (at the end of the script)",
            };
        }

        return new ScriptDiagnostic(line, column, message);
    }

    /// <summary>
    /// The fixed set of assemblies a script compiles against: the core library and the ones holding
    /// the allowed namespaces, Mixer.Sdk, and this adapter (for <see cref="ScriptGlobals"/>).
    /// </summary>
    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        Assembly[] assemblies =
        [
            typeof(object).Assembly,
            Assembly.Load("System.Runtime"),
            typeof(Enumerable).Assembly,
            Assembly.Load("System.Collections"),
            typeof(System.Text.RegularExpressions.Regex).Assembly,
            typeof(System.Net.IPAddress).Assembly,
            typeof(AttributeValue).Assembly,
            typeof(ScriptGlobals).Assembly,
        ];
        return [.. assemblies.Distinct().Select(a => (MetadataReference)MetadataReference.CreateFromFile(a.Location))];
    }
}

/// <summary>A collectible load context holding one script's assembly; unloaded when the script leaves the cache.</summary>
internal sealed class ScriptLoadContext(string name) : AssemblyLoadContext(name, isCollectible: true)
{
    // Everything a script references (the core library, Mixer.Sdk, this adapter) comes from the default context.
    protected override Assembly? Load(AssemblyName assemblyName) => null;
}

/// <summary>The outcome of compiling one script: its problems, or the type to instantiate per handler.</summary>
internal sealed class CompiledScript(
    string hash,
    IReadOnlyList<ScriptDiagnostic> problems,
    IReadOnlyList<(string Name, int Line)> counters,
    Type? type,
    ScriptLoadContext? context,
    TimeSpan compileTime)
{
    public string Hash { get; } = hash;

    public IReadOnlyList<ScriptDiagnostic> Problems { get; } = problems;

    /// <summary>Counter names the script passes to <c>Count</c>, with the line of each use.</summary>
    public IReadOnlyList<(string Name, int Line)> Counters { get; } = counters;

    public TimeSpan CompileTime { get; } = compileTime;

    public bool Succeeded => _type is not null;

    private Type? _type = type;
    private ScriptLoadContext? _context = context;

    /// <summary>The load context, for tests that watch it being collected.</summary>
    internal WeakReference? ContextReference => _context is null ? null : new WeakReference(_context);

    public static CompiledScript Failed(string hash, List<ScriptDiagnostic> problems, TimeSpan compileTime) =>
        new(hash, problems, [], null, null, compileTime);

    /// <summary>A new instance of the script class, ready for <see cref="ScriptGlobals.Attach"/>.</summary>
    public ScriptGlobals CreateInstance() =>
        (ScriptGlobals)Activator.CreateInstance(_type ?? throw new InvalidOperationException("the script did not compile"))!;

    /// <summary>The script's <c>Run</c> method.</summary>
    public MethodInfo RunMethod => (_type ?? throw new InvalidOperationException("the script did not compile")).GetMethod(ScriptSource.MethodName)!;

    /// <summary>Drops the assembly: the load context is collected once no handler runs it any more.</summary>
    public void Unload()
    {
        var context = _context;
        _type = null;
        _context = null;
        context?.Unload();
    }
}
