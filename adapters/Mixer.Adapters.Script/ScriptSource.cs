using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Mixer.Adapters.Script;

/// <summary>
/// The C# file a script becomes: the script is the body of <c>Run(instance)</c> in a class
/// deriving from <see cref="ScriptGlobals"/>, behind a fixed set of imports. A <c>#line</c>
/// directive maps the body back to the script's own lines, so diagnostics and exception traces
/// name the line the operator wrote.
/// </summary>
internal static class ScriptSource
{
    /// <summary>The imports every script has (documented in adapters/README.md).</summary>
    public static readonly IReadOnlyList<string> Imports =
    [
        "System",
        "System.Collections.Generic",
        "System.Globalization",
        "System.Linq",
        "System.Text",
        "System.Text.RegularExpressions",
        "Mixer.Sdk",
        "Mixer.Sdk.Templates",
        "CheckResult = Mixer.Sdk.Adapters.CheckResult",
        "StatusCodes = Mixer.Sdk.Adapters.StatusCodes",
        "ValueType = Mixer.Sdk.ValueType",
        "IPAddress = System.Net.IPAddress",
        "IPNetwork = System.Net.IPNetwork",
    ];

    public const string Namespace = "MixerScripts";
    public const string ClassName = "Script";
    public const string MethodName = "Run";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.None, SourceCodeKind.Regular);

    /// <summary>A stable key of a script: its template and its text (line endings normalised).</summary>
    public static string Hash(ScriptTemplate template, string source)
    {
        var bytes = Encoding.UTF8.GetBytes(template.Name + "\n" + Normalize(source));
        return Convert.ToHexString(SHA256.HashData(bytes), 0, 12).ToLowerInvariant();
    }

    public static string Normalize(string source) => source.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd();

    /// <summary>Whether the script is one expression (then it is the method's result) rather than statements.</summary>
    public static bool IsExpression(string source)
    {
        var expression = SyntaxFactory.ParseExpression(source, options: ParseOptions);
        return !expression.ContainsDiagnostics && expression is not IdentifierNameSyntax { IsMissing: true };
    }

    /// <summary>The whole file for <paramref name="source"/> serving <paramref name="template"/>.</summary>
    public static string Wrap(ScriptTemplate template, string source)
    {
        var body = Normalize(source);
        var sb = new StringBuilder(body.Length + 1024);
        foreach (var import in Imports)
        {
            sb.Append("using ").Append(import).Append(";\n");
        }

        var result = template.IsCheck ? "CheckResult" : "void";
        sb.Append("namespace ").Append(Namespace).Append("\n{\n");
        sb.Append("public sealed class ").Append(ClassName).Append(" : global::Mixer.Adapters.Script.ScriptGlobals\n{\n");
        sb.Append("public ").Append(result).Append(' ').Append(MethodName).Append('(').Append(template.InstanceType.Name).Append(" instance)\n{\n");
        var expression = IsExpression(body);
        if (expression && template.IsCheck)
        {
            sb.Append("return\n");
        }

        sb.Append("#line 1 \"").Append(template.Name).Append("\"\n");
        sb.Append(body).Append('\n');
        sb.Append("#line default\n");
        if (expression)
        {
            sb.Append(";\n");
        }

        sb.Append("}\n}\n}\n");
        return sb.ToString();
    }

    /// <summary>
    /// Whether the parsed file has exactly the shape <see cref="Wrap"/> made: a script that closes
    /// the method's braces to declare members of its own (a finalizer, a static constructor) or
    /// brings its own preprocessor directives is not a script.
    /// </summary>
    public static bool HasExpectedShape(CompilationUnitSyntax unit, out MethodDeclarationSyntax? method)
    {
        method = null;
        if (unit.Members is not [BaseNamespaceDeclarationSyntax { Members: [ClassDeclarationSyntax { Members: [MethodDeclarationSyntax m] }] }])
        {
            return false;
        }

        // Our own: #line 1 and #line default.
        if (unit.DescendantTrivia(descendIntoTrivia: true).Count(t => t.IsDirective) != 2)
        {
            return false;
        }

        method = m;
        return m.Body is not null;
    }
}
