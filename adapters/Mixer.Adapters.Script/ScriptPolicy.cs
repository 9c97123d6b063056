using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Mixer.Adapters.Script;

/// <summary>
/// What a script may use, checked on the semantic model of a script that compiled: every name,
/// member access, invocation, object creation and the type of every expression must resolve to an
/// allowed namespace or type; some syntax is refused outright. An allow-list, so that a new API in
/// a new runtime is refused until someone decides it is harmless.
/// </summary>
internal static class ScriptPolicy
{
    /// <summary>The largest constant count <c>Enumerable.Range</c> / <c>Enumerable.Repeat</c> may be given (their loops run inside the library, where the budget cannot reach).</summary>
    public const int MaxGeneratedSequence = 100_000;

    /// <summary>Namespaces whose types scripts may use, less the types in <see cref="DeniedTypes"/>.</summary>
    public static readonly IReadOnlySet<string> AllowedNamespaces = new HashSet<string>(StringComparer.Ordinal)
    {
        "System", "System.Collections.Generic", "System.Globalization", "System.Linq", "System.Text", "System.Text.RegularExpressions",
        "Mixer.Sdk", "Mixer.Sdk.Templates", ScriptSource.Namespace,
    };

    /// <summary>Types scripts may use outside <see cref="AllowedNamespaces"/>.</summary>
    public static readonly IReadOnlySet<string> AllowedTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "System.Net.IPAddress", "System.Net.IPNetwork", "System.Net.Sockets.AddressFamily",
        "System.Collections.IEnumerable", "System.Collections.IEnumerator",
        "Mixer.Sdk.Adapters.CheckResult", "Mixer.Sdk.Adapters.StatusCodes",
        "Mixer.Adapters.Script.ScriptGlobals",
    };

    /// <summary>Types of allowed namespaces that scripts may not use, with why.</summary>
    public static readonly IReadOnlyDictionary<string, string> DeniedTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["System.Activator"] = "it creates objects by reflection",
        ["System.AppContext"] = "it changes process-wide switches",
        ["System.AppDomain"] = "it reaches the whole process",
        ["System.ArgIterator"] = "it reads raw arguments",
        ["System.Buffer"] = "it copies raw memory",
        ["System.Console"] = "it reads and writes the process's standard streams (use Log)",
        ["System.Environment"] = "it can read the environment and end the process",
        ["System.GC"] = "it drives the garbage collector for the whole process",
        ["System.LocalDataStoreSlot"] = "it keeps state across calls",
        ["System.MarshalByRefObject"] = "it is for remoting",
        ["System.ModuleHandle"] = "it reaches runtime metadata",
        ["System.RuntimeArgumentHandle"] = "it reads raw arguments",
        ["System.RuntimeFieldHandle"] = "it reaches runtime metadata",
        ["System.RuntimeMethodHandle"] = "it reaches runtime metadata",
        ["System.RuntimeTypeHandle"] = "it reaches runtime metadata",
        ["System.Type"] = "it is the door to reflection",
        ["System.TypedReference"] = "it reads raw references",
        ["System.WeakReference"] = "it keeps state across calls",
        ["System.WeakReference`1"] = "it keeps state across calls",
        ["System.Linq.Queryable"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.IQueryable"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.IQueryable`1"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.IOrderedQueryable"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.IOrderedQueryable`1"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.IQueryProvider"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.EnumerableQuery"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.EnumerableQuery`1"] = "it builds expression trees (use the Enumerable methods)",
        ["System.Linq.ParallelEnumerable"] = "it runs code on other threads",
        ["System.Linq.ParallelQuery"] = "it runs code on other threads",
        ["System.Linq.ParallelQuery`1"] = "it runs code on other threads",
        ["System.Linq.OrderedParallelQuery`1"] = "it runs code on other threads",
        ["System.Text.RegularExpressions.RegexRunner"] = "it is the regex engine's internals",
        ["System.Text.RegularExpressions.RegexRunnerFactory"] = "it is the regex engine's internals",
        ["System.Text.RegularExpressions.RegexCompilationInfo"] = "it compiles regexes to assemblies",
    };

    /// <summary>Members of allowed types that scripts may not use, with why.</summary>
    private static readonly IReadOnlyDictionary<string, string> DeniedMembers = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["System.Object.GetType"] = "it is the door to reflection",
        ["System.Object.MemberwiseClone"] = "it is the door to reflection",
        ["System.Delegate.DynamicInvoke"] = "it invokes by reflection",
        ["System.Delegate.Method"] = "it is the door to reflection",
        ["System.Delegate.Target"] = "it is the door to reflection",
        ["System.Delegate.CreateDelegate"] = "it binds by reflection",
        ["System.Globalization.CultureInfo.CurrentCulture"] = "it is mixs's thread state (use CultureInfo.InvariantCulture)",
        ["System.Globalization.CultureInfo.CurrentUICulture"] = "it is mixs's thread state (use CultureInfo.InvariantCulture)",
        ["System.Globalization.CultureInfo.DefaultThreadCurrentCulture"] = "it is process-wide state (use CultureInfo.InvariantCulture)",
        ["System.Globalization.CultureInfo.DefaultThreadCurrentUICulture"] = "it is process-wide state (use CultureInfo.InvariantCulture)",
        ["System.Text.Encoding.RegisterProvider"] = "it changes process-wide state",
        ["System.TimeZoneInfo.ClearCachedData"] = "it changes process-wide state",
    };

    private const string Allowed =
        "scripts may use System (less Environment, Console, GC, Type, AppDomain, Activator…), System.Collections.Generic, System.Linq (Enumerable), " +
        "System.Text, System.Globalization, IPAddress/IPNetwork, Mixer.Sdk and Mixer.Sdk.Templates; see adapters/README.md";

    /// <summary>The problems of a compiled script, and the counters it counts into (name, line).</summary>
    public static List<ScriptDiagnostic> Check(SemanticModel model, BlockSyntax body, List<(string Name, int Line)> counters)
    {
        var problems = new List<ScriptDiagnostic>();
        var seen = new HashSet<(int, string)>();
        void Add(SyntaxNode node, string message)
        {
            var (line, column) = ScriptDiagnostic.Position(node.GetLocation());
            if (seen.Add((line, message)))
            {
                problems.Add(new ScriptDiagnostic(line, column, message));
            }
        }

        foreach (var node in body.DescendantNodes())
        {
            if (SyntaxRule(node) is { } refused)
            {
                Add(node, refused);
                continue;
            }

            if (node is InvocationExpressionSyntax invocation)
            {
                CheckInvocation(model, invocation, counters, Add);
            }

            if (node is not ExpressionSyntax)
            {
                continue;
            }

            var info = model.GetSymbolInfo(node);
            if (info.Symbol is { } symbol && SymbolRule(symbol) is { } denied)
            {
                Add(node, denied);
                continue;
            }

            var type = model.GetTypeInfo(node);
            var badType = (type.Type is { } t ? TypeRule(t) : null) ?? (type.ConvertedType is { } ct ? TypeRule(ct) : null);
            if (badType is not null)
            {
                Add(node, badType);
            }
        }

        return problems;
    }

    private static string? SyntaxRule(SyntaxNode node) => node switch
    {
        StackAllocArrayCreationExpressionSyntax or ImplicitStackAllocArrayCreationExpressionSyntax => "stackalloc is not allowed in scripts (a large one overflows mixs's stack)",
        UnsafeStatementSyntax or FixedStatementSyntax or PointerTypeSyntax or FunctionPointerTypeSyntax => "unsafe code is not allowed in scripts",
        PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.AddressOfExpression or (int)SyntaxKind.PointerIndirectionExpression } => "unsafe code is not allowed in scripts",
        MemberAccessExpressionSyntax { RawKind: (int)SyntaxKind.PointerMemberAccessExpression } => "unsafe code is not allowed in scripts",
        LockStatementSyntax => "lock is not allowed in scripts: a script shares nothing with other calls",
        AwaitExpressionSyntax => "await is not allowed in scripts: scripts are synchronous",
        QueryExpressionSyntax => "query syntax (from … select) is not allowed in scripts: its hidden lambdas cannot be held to the time budget; write method calls (xs.Where(x => …))",
        MakeRefExpressionSyntax or RefTypeExpressionSyntax or RefValueExpressionSyntax => "__makeref, __reftype and __refvalue are not allowed in scripts",
        ExpressionSyntax when node.IsKind(SyntaxKind.ArgListExpression) => "__arglist is not allowed in scripts",
        AttributeListSyntax => "attributes are not allowed in scripts",
        LocalFunctionStatementSyntax f when f.Modifiers.Any(SyntaxKind.ExternKeyword) => "extern functions are not allowed in scripts",
        LocalFunctionStatementSyntax f when f.Modifiers.Any(SyntaxKind.AsyncKeyword) => "async functions are not allowed in scripts: scripts are synchronous",
        AnonymousFunctionExpressionSyntax f when f.Modifiers.Any(SyntaxKind.AsyncKeyword) => "async lambdas are not allowed in scripts: scripts are synchronous",
        _ => null,
    };

    private static void CheckInvocation(SemanticModel model, InvocationExpressionSyntax invocation, List<(string Name, int Line)> counters, Action<SyntaxNode, string> add)
    {
        if (model.GetSymbolInfo(invocation).Symbol is not IMethodSymbol method)
        {
            return;
        }

        var owner = FullName(method.ContainingType);
        if (owner == "Mixer.Adapters.Script.ScriptGlobals")
        {
            var first = invocation.ArgumentList.Arguments.FirstOrDefault()?.Expression;
            var second = invocation.ArgumentList.Arguments.Skip(1).FirstOrDefault()?.Expression;
            switch (method.Name)
            {
                case "Count" when first is not null:
                    if (model.GetConstantValue(first) is { HasValue: true, Value: string name })
                    {
                        counters.Add((name, ScriptDiagnostic.Position(first.GetLocation()).Line));
                    }
                    else
                    {
                        add(first, "the counter name given to Count must be a string constant naming a counter of the params' counters");
                    }

                    break;
                case "IsMatch" or "Match" when second is not null && model.GetConstantValue(second) is { HasValue: true, Value: string pattern }:
                    try
                    {
                        _ = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                    }
                    catch (ArgumentException e)
                    {
                        add(second, $"not a regular expression: {e.Message}");
                    }

                    break;
            }

            return;
        }

        if (owner == "System.Linq.Enumerable" && method.Name is "Range" or "Repeat")
        {
            var count = invocation.ArgumentList.Arguments.Count == 2 ? invocation.ArgumentList.Arguments[1].Expression : null;
            if (count is null || model.GetConstantValue(count) is not { HasValue: true, Value: int n } || n > MaxGeneratedSequence)
            {
                add(invocation, $"Enumerable.{method.Name} needs a constant count of at most {MaxGeneratedSequence:N0} in scripts (its loop runs where the time budget cannot stop it); write a for loop");
            }
        }
    }

    /// <summary>Why <paramref name="symbol"/> may not be used, or null if it may.</summary>
    public static string? SymbolRule(ISymbol symbol)
    {
        switch (symbol)
        {
            case ITypeSymbol type:
                return TypeRule(type);
            case INamespaceSymbol or ILabelSymbol or IDiscardSymbol or IRangeVariableSymbol or IAliasSymbol:
                return null;
            case ILocalSymbol local:
                return TypeRule(local.Type);
            case IParameterSymbol parameter:
                return TypeRule(parameter.Type);
            case IMethodSymbol { MethodKind: MethodKind.LocalFunction or MethodKind.AnonymousFunction }:
                return null;
        }

        if (symbol.ContainingType is { } containing)
        {
            if (TypeRule(containing) is { } bad)
            {
                return bad;
            }

            var member = FullName(containing.OriginalDefinition) + "." + symbol.Name;
            if (DeniedMembers.TryGetValue(member, out var why))
            {
                return $"{member} is not available to scripts: {why}";
            }

            if (FullName(containing.OriginalDefinition) == "System.Text.RegularExpressions.Regex"
                && (symbol.IsStatic || symbol is IMethodSymbol { MethodKind: MethodKind.Constructor })
                && symbol.Name is not ("Escape" or "Unescape" or "InfiniteMatchTimeout"))
            {
                return "Regex's constructors and static methods are not available to scripts: use IsMatch(input, pattern) or Match(input, pattern), which run within the script's time budget";
            }
        }

        return symbol switch
        {
            IMethodSymbol m => TypeRule(m.ReturnType),
            IPropertySymbol p => TypeRule(p.Type),
            IFieldSymbol f => TypeRule(f.Type),
            IEventSymbol e => TypeRule(e.Type),
            _ => null,
        };
    }

    /// <summary>Why <paramref name="type"/> may not be used, or null if it may.</summary>
    public static string? TypeRule(ITypeSymbol type)
    {
        switch (type)
        {
            case IErrorTypeSymbol or ITypeParameterSymbol:
                return null;
            case IArrayTypeSymbol array:
                return TypeRule(array.ElementType);
            case IPointerTypeSymbol or IFunctionPointerTypeSymbol:
                return "pointers are not allowed in scripts";
            case IDynamicTypeSymbol:
                return "dynamic is not available to scripts";
            case INamedTypeSymbol { IsAnonymousType: true }:
                return null;
            case INamedTypeSymbol { TypeKind: TypeKind.Delegate, IsImplicitlyDeclared: true }:
                return null;
            case INamedTypeSymbol named:
                var name = FullName(named.OriginalDefinition);
                if (DeniedTypes.TryGetValue(name, out var why))
                {
                    return $"{Display(name)} is not available to scripts: {why}";
                }

                var outer = named;
                while (outer.ContainingType is { } c)
                {
                    outer = c;
                }

                var ns = outer.ContainingNamespace?.ToDisplayString() ?? string.Empty;
                if (!AllowedTypes.Contains(FullName(outer.OriginalDefinition)) && !AllowedNamespaces.Contains(ns))
                {
                    return $"{Display(name)} is not available to scripts ({Allowed})";
                }

                foreach (var argument in named.TypeArguments)
                {
                    if (TypeRule(argument) is { } bad)
                    {
                        return bad;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>Namespace-qualified metadata name with arity (<c>System.WeakReference`1</c>), nested types with '.'.</summary>
    private static string FullName(INamedTypeSymbol type)
    {
        var name = type.MetadataName;
        if (type.ContainingType is { } outer)
        {
            return FullName(outer) + "." + name;
        }

        var ns = type.ContainingNamespace;
        return ns is null || ns.IsGlobalNamespace ? name : ns.ToDisplayString() + "." + name;
    }

    private static string Display(string metadataName)
    {
        var tick = metadataName.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? metadataName : metadataName[..tick] + "<>";
    }
}

/// <summary>A problem in a script: its line and column within the script (1-based; 0 when it concerns the script as a whole).</summary>
internal readonly record struct ScriptDiagnostic(int Line, int Column, string Message)
{
    /// <summary>Line and column of <paramref name="location"/> within the script (the <c>#line</c>-mapped span), or (0, 0) outside it.</summary>
    public static (int Line, int Column) Position(Location location)
    {
        var mapped = location.GetMappedLineSpan();
        return mapped.HasMappedPath ? (mapped.StartLinePosition.Line + 1, mapped.StartLinePosition.Character + 1) : (0, 0);
    }

    public override string ToString() => Line > 0 ? $"line {Line}, column {Column}: {Message}" : Message;
}
