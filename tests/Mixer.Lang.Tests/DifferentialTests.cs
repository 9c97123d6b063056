using System.Globalization;
using Mixer.Lang.Tests.Reference;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Tests;

/// <summary>
/// Generated expressions, evaluated by the compiler and by the tree walker over generated bags:
/// both must give the same value, or the same error.
/// </summary>
public sealed class DifferentialTests
{
    private static readonly ExpressionCompiler Compiler = new(Cases.Manifest, CompilationMode.Immediate);
    private static readonly ExpressionCompiler Interpreter = new(Cases.Manifest, CompilationMode.Interpreted);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Compiler_AgreesWithTreeWalker_OnGeneratedExpressions(int seed)
    {
        var gen = new Generator(new Random(seed));
        var disagreements = new List<string>();
        for (var i = 0; i < 250; i++)
        {
            var type = gen.Pick(ValueType.Bool, ValueType.Bool, ValueType.String, ValueType.Int64, ValueType.Double, ValueType.Duration, ValueType.Timestamp, ValueType.IpAddress, ValueType.StringMap);
            var text = gen.Expr(type, 4);
            var compiled = Compiler.TryCompile(text, out var expression, out var error);
            compiled.ShouldBeTrue($"generated '{text}' should compile: {error}");
            expression!.ResultType.ShouldBe(type, text);
            var walker = TreeWalker.For(text, Cases.Manifest);
            var interpreted = Interpreter.Compile(text);
            for (var j = 0; j < 6; j++)
            {
                var bag = gen.Bag();
                var a = expression.Evaluate(bag);
                var b = walker.Evaluate(bag);
                var t0 = interpreted.Evaluate(bag);
                if (!Same(a, b) || !Same(t0, b))
                {
                    disagreements.Add($"{text} over [{string.Join(", ", bag.Names.Select(n => n + "=" + (bag.TryGet(n, out var v) ? v.ToString() : "")))}]: compiled {a}, interpreted {t0}, walker {b}");
                }
            }
        }

        disagreements.ShouldBeEmpty();
    }

    private static bool Same(EvalResult a, EvalResult b) => a.Succeeded == b.Succeeded && (a.Succeeded ? a.Value.Equals(b.Value) : a.Error == b.Error);

    private sealed class Generator(Random random)
    {
        private static readonly string[] Strings = ["", "a", "b", "abc", "ABC", "0", "x-y", "a*", "*c"];
        private static readonly string[] Keys = ["a", "b", "c"];

        public T Pick<T>(params T[] items) => items[random.Next(items.Length)];

        private bool Chance(double p) => random.NextDouble() < p;

        private string Str() => "\"" + Pick(Strings.Where(s => s != "0").ToArray()) + "\"";

        public string Expr(ValueType type, int depth)
        {
            if (depth <= 0 || Chance(0.25))
            {
                return Leaf(type);
            }

            var d = depth - 1;
            switch (type)
            {
                case ValueType.Bool:
                    return random.Next(11) switch
                    {
                        0 => $"{Expr(ValueType.Bool, d)} || {Expr(ValueType.Bool, d)}",
                        1 => $"({Expr(ValueType.Bool, d)} && {Expr(ValueType.Bool, d)})",
                        2 => Eq(d),
                        3 => $"!({Expr(ValueType.Bool, d)})",
                        4 => $"({Expr(ValueType.Int64, d)} {Pick("<", "<=", ">", ">=")} {Expr(ValueType.Int64, d)})",
                        5 => $"({Expr(ValueType.String, d)} {Pick("<", ">=")} {Expr(ValueType.String, d)})",
                        6 => $"match({Expr(ValueType.String, d)}, {Expr(ValueType.String, d)})",
                        7 => $"({Expr(ValueType.String, d)}).{Pick("startsWith", "endsWith")}({Expr(ValueType.String, d)})",
                        8 => $"conditional({Expr(ValueType.Bool, d)}, {Expr(ValueType.Bool, d)}, {Expr(ValueType.Bool, d)})",
                        9 => $"({Expr(ValueType.Bool, d)} | {Expr(ValueType.Bool, d)})",
                        _ => $"{Pick("\"a+\"", "\"^a.c$\"", "\"\\\\d\"", "\"(\"", "\"[[:upper:]]\"")}.matches({Expr(ValueType.String, d)})",
                    };
                case ValueType.String:
                    return random.Next(7) switch
                    {
                        0 => $"({Expr(ValueType.String, d)} | {Expr(ValueType.String, d)})",
                        1 => $"{Pick("ar", "br", "request.headers")}[{Expr(ValueType.String, d)}]",
                        2 => $"({Expr(ValueType.String, d)} + {Expr(ValueType.String, d)})",
                        3 => $"toLower({Expr(ValueType.String, d)})",
                        4 => $"conditional({Expr(ValueType.Bool, d)}, {Expr(ValueType.String, d)}, {Expr(ValueType.String, d)})",
                        5 => $"({Expr(ValueType.StringMap, d)})[{Expr(ValueType.String, d)}]",
                        _ => $"conditionalString({Expr(ValueType.Bool, d)}, {Expr(ValueType.String, d)}, {Expr(ValueType.String, d)})",
                    };
                case ValueType.Int64:
                    return random.Next(5) switch
                    {
                        0 => $"({Expr(ValueType.Int64, d)} | {Expr(ValueType.Int64, d)})",
                        1 => $"({Expr(ValueType.Int64, d)} + {Expr(ValueType.Int64, d)})",
                        2 => $"size({Expr(ValueType.String, d)})",
                        3 => $"({Expr(ValueType.Int64, d)} | {Pick("0", "7")})",
                        _ => $"conditional({Expr(ValueType.Bool, d)}, {Expr(ValueType.Int64, d)}, {Expr(ValueType.Int64, d)})",
                    };
                case ValueType.Double:
                    return Chance(0.5) ? $"({Expr(ValueType.Double, d)} + {Expr(ValueType.Double, d)})" : $"({Expr(ValueType.Double, d)} | {Expr(ValueType.Double, d)})";
                case ValueType.StringMap:
                    return $"({Expr(ValueType.StringMap, d)} | {Expr(ValueType.StringMap, d)})";
                default:
                    return Chance(0.5) ? $"({Expr(type, d)} | {Expr(type, d)})" : $"conditional({Expr(ValueType.Bool, d)}, {Expr(type, d)}, {Expr(type, d)})";
            }
        }

        private string Eq(int d)
        {
            var t = Pick(ValueType.String, ValueType.Int64, ValueType.Bool, ValueType.Double, ValueType.Timestamp, ValueType.IpAddress);
            return $"({Expr(t, d)} {Pick("==", "!=")} {Expr(t, d)})";
        }

        private string Leaf(ValueType type) => type switch
        {
            ValueType.Bool => Chance(0.5) ? Pick("ab", "bb", "connection.mtls") : Pick("true", "false"),
            ValueType.String => Chance(0.6) ? Pick("as", "bs", "cs", "request.user", "source.name") : Str(),
            ValueType.Int64 => Chance(0.6) ? Pick("ai", "bi", "request.size") : random.Next(0, 4).ToString(CultureInfo.InvariantCulture),
            ValueType.Double => Chance(0.6) ? Pick("ad", "bd") : Pick("1.5", "2.0", "0.25"),
            ValueType.Duration => Chance(0.6) ? Pick("adur", "bdur", "response.duration") : Pick("\"0\"", "\"10ms\"", "\"1s\""),
            ValueType.Timestamp => Chance(0.6) ? Pick("at", "bt", "request.time") : Pick("timestamp(\"2018-07-31T12:00:00Z\")", "timestamp(\"bad\")"),
            ValueType.IpAddress => Chance(0.6) ? Pick("aip", "bip", "source.ip") : Pick("ip(\"10.0.0.1\")", "ip(\"::ffff:10.0.0.1\")", "ip(\"nope\")"),
            ValueType.StringMap => Chance(0.7) ? Pick("ar", "br", "request.headers", "source.labels") : "emptyStringMap()",
            _ => throw new InvalidOperationException(),
        };

        public DictionaryBag Bag()
        {
            var bag = new DictionaryBag();
            void Maybe(string name, Func<AttributeValue> value)
            {
                if (Chance(0.6))
                {
                    bag.Set(name, value());
                }
            }

            foreach (var n in new[] { "ab", "bb", "connection.mtls" })
            {
                Maybe(n, () => AttributeValue.Bool(Chance(0.5)));
            }

            foreach (var n in new[] { "as", "bs", "cs", "request.user", "source.name" })
            {
                Maybe(n, () => AttributeValue.String(Pick(Strings)));
            }

            foreach (var n in new[] { "ai", "bi", "request.size" })
            {
                Maybe(n, () => AttributeValue.Int64(random.Next(-3, 4)));
            }

            foreach (var n in new[] { "ad", "bd" })
            {
                Maybe(n, () => AttributeValue.Double(Pick(1.5, 2.0, 0.25)));
            }

            foreach (var n in new[] { "adur", "bdur", "response.duration" })
            {
                Maybe(n, () => AttributeValue.DurationNanos(Pick(0L, 10_000_000L, 1_000_000_000L)));
            }

            foreach (var n in new[] { "at", "bt", "request.time" })
            {
                Maybe(n, () => AttributeValue.Timestamp(Pick(1533038400L, 0L), 0));
            }

            foreach (var n in new[] { "aip", "bip", "source.ip" })
            {
                Maybe(n, () => AttributeValue.Bytes(Pick(new byte[] { 10, 0, 0, 1 }, new byte[] { 10, 0, 0, 2 })));
            }

            foreach (var n in new[] { "ar", "br", "request.headers", "source.labels" })
            {
                Maybe(n, () => AttributeValue.StringMap(new StringMapValue(Keys.Where(_ => Chance(0.5)).ToDictionary(k => k, _ => Pick(Strings)))));
            }

            return bag;
        }
    }
}
