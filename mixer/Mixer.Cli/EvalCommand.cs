using System.CommandLine;
using System.Text;
using System.Text.Json;
using Mixer.Lang;
using Mixer.Sdk;

namespace Mixer.Cli;

/// <summary>
/// <c>mixc eval</c>: evaluates a CEXL expression against an attribute manifest and attributes,
/// once (<c>-e</c>) or for a stream of JSON lines (<c>--jsonl</c>).
/// </summary>
internal static class EvalCommand
{
    /// <summary>Exit code: evaluated.</summary>
    public const int Ok = 0;

    /// <summary>Exit code: the expression compiled but its evaluation failed.</summary>
    public const int EvaluationFailed = 1;

    /// <summary>Exit code: bad usage, manifest, attribute or expression.</summary>
    public const int BadInput = 2;

    public static Command Create()
    {
        var manifest = new Option<FileInfo>("--manifest", "-m")
        {
            Description = "YAML file holding one or more 'kind: attributemanifest' documents",
            Required = true,
        };
        var expression = new Option<string?>("--expression", "-e") { Description = "the expression to evaluate" };
        var attributes = new Option<string[]>("--attribute", "-s")
        {
            Description = "an attribute as name=value, typed by the manifest (maps as k1:v1;k2:v2); repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var jsonl = new Option<bool>("--jsonl")
        {
            Description = "read {\"expr\": ..., \"attrs\": {name: TYPED}} lines from stdin, write one JSON answer per line",
        };
        var command = new Command(
            "eval",
            "Evaluate an expression. Example: mixc eval -m attributes.yaml -e 'request.headers[\"x-user\"] | \"anon\"' -s 'request.headers=x-user:jane'")
        {
            manifest,
            expression,
            attributes,
            jsonl,
        };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(manifest)!;
            var text = parse.GetValue(expression);
            var flags = parse.GetValue(attributes) ?? [];
            var jsonlMode = parse.GetValue(jsonl);
            return Run(file.FullName, text, flags, jsonlMode, Console.In, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>The command's behaviour, over explicit streams (for tests).</summary>
    public static int Run(string manifestPath, string? expression, IReadOnlyList<string> attributes, bool jsonl, TextReader input, TextWriter output, TextWriter errorOutput)
    {
        var problems = new List<string>();
        var manifest = EvalManifestReader.Read(manifestPath, problems);
        if (manifest is null)
        {
            foreach (var p in problems)
            {
                errorOutput.WriteLine("error: " + p);
            }

            return BadInput;
        }

        var compiler = new ExpressionCompiler(manifest);
        if (jsonl)
        {
            if (expression is not null || attributes.Count > 0)
            {
                errorOutput.WriteLine("error: --jsonl reads expressions and attributes from stdin; drop -e and -s");
                return BadInput;
            }

            RunJsonLines(compiler, input, output);
            return Ok;
        }

        if (expression is null)
        {
            errorOutput.WriteLine("error: give an expression with -e, or use --jsonl");
            return BadInput;
        }

        var bag = new DictionaryBag();
        foreach (var flag in attributes)
        {
            var eq = flag.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                errorOutput.WriteLine($"error: -s '{flag}': write name=value");
                return BadInput;
            }

            var name = flag[..eq];
            if (!manifest.TryGetType(name, out var type))
            {
                errorOutput.WriteLine($"error: -s '{flag}': no manifest declares attribute '{name}'");
                return BadInput;
            }

            if (!EvalValues.TryParseText(type, flag[(eq + 1)..], out var value, out var why))
            {
                errorOutput.WriteLine($"error: -s '{flag}': {why}");
                return BadInput;
            }

            bag.Set(name, value);
        }

        if (!compiler.TryCompile(expression, out var compiled, out var compileError))
        {
            errorOutput.WriteLine($"error: {compileError}");
            errorOutput.WriteLine("  " + expression.Replace('\n', ' '));
            errorOutput.WriteLine("  " + new string(' ', compileError.Offset) + "^");
            return BadInput;
        }

        var result = compiled.Evaluate(bag);
        if (!result.Succeeded)
        {
            errorOutput.WriteLine("error: " + result.Error);
            return EvaluationFailed;
        }

        output.WriteLine($"{result.Value} ({result.Value.Type.ToIstioName()})");
        return Ok;
    }

    // Messages quote with ' and name operators like <, so keep them readable rather than \u-escaped.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One answer line per input line, in order; a bad line answers with an error and the stream goes on.</summary>
    public static void RunJsonLines(ExpressionCompiler compiler, TextReader input, TextWriter output)
    {
        var cache = new Dictionary<string, (CompiledExpression? Expression, string? Error)>(StringComparer.Ordinal);
        var buffer = new MemoryStream();
        string? line;
        while ((line = input.ReadLine()) is not null)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            buffer.SetLength(0);
            using (var w = new Utf8JsonWriter(buffer, JsonOptions))
            {
                w.WriteStartObject();
                Answer(compiler, cache, line, w);
                w.WriteEndObject();
            }

            output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            output.Flush();
        }
    }

    private static void Answer(ExpressionCompiler compiler, Dictionary<string, (CompiledExpression?, string?)> cache, string line, Utf8JsonWriter w)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            w.WriteString("error", "input line is not JSON: " + e.Message);
            return;
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("expr", out var exprNode) || exprNode.ValueKind != JsonValueKind.String)
            {
                w.WriteString("error", "input line must be an object with \"expr\" (a string) and \"attrs\" (an object)");
                return;
            }

            var bag = new DictionaryBag();
            if (root.TryGetProperty("attrs", out var attrs) && attrs.ValueKind != JsonValueKind.Null)
            {
                if (attrs.ValueKind != JsonValueKind.Object)
                {
                    w.WriteString("error", "\"attrs\" must be an object of name to typed value");
                    return;
                }

                foreach (var a in attrs.EnumerateObject())
                {
                    if (!EvalValues.TryParseJson(a.Value, out var value, out var why))
                    {
                        w.WriteString("error", $"attribute '{a.Name}': {why}");
                        return;
                    }

                    bag.Set(a.Name, value);
                }
            }

            var text = exprNode.GetString()!;
            if (!cache.TryGetValue(text, out var entry))
            {
                entry = compiler.TryCompile(text, out var compiled, out var error) ? (compiled, null) : (null, error!.ToString());
                if (cache.Count > 10_000)
                {
                    cache.Clear();
                }

                cache[text] = entry;
            }

            if (entry.Item1 is not { } expression)
            {
                w.WriteString("compileError", entry.Item2);
                return;
            }

            var result = expression.Evaluate(bag);
            if (!result.Succeeded)
            {
                w.WriteString("error", result.Error);
                return;
            }

            w.WritePropertyName("value");
            EvalValues.WriteJson(w, result.Value);
            w.WriteString("type", result.Value.Type.ToIstioName());
        }
    }
}
