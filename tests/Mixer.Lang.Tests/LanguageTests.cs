using Mixer.Lang.Checking;
using Mixer.Lang.Syntax;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Tests;

public sealed class LanguageTests
{
    private static readonly ExpressionCompiler Compiler = new(Cases.Manifest);

    [Theory]
    [InlineData("a | \"x\" == \"y\"", "EQ(OR($a, \"x\"), \"y\")")]
    [InlineData("a || b && c", "LOR($a, LAND($b, $c))")]
    [InlineData("a == b || c != d", "LOR(EQ($a, $b), NEQ($c, $d))")]
    [InlineData("a | b | c", "OR(OR($a, $b), $c)")]
    [InlineData("a + b == c", "EQ(ADD($a, $b), $c)")]
    [InlineData("destination.service.startsWith(\"a\")", "$destination.service:startsWith(\"a\")")]
    [InlineData("\"svc.*\".matches(x.y)", "\"svc.*\":matches($x.y)")]
    [InlineData("m[\"k\"] | \"d\"", "OR(INDEX($m, \"k\"), \"d\")")]
    [InlineData("a < b == c", "EQ(LT($a, $b), $c)")]
    [InlineData("!a && b", "LAND(NOT($a), $b)")]
    [InlineData("\"10ms\"", "10ms")]
    public void Parser_GoPrecedence_BuildsTheExpectedTree(string text, string tree) =>
        Parser.Parse(text).ToString().ShouldBe(tree);

    [Fact]
    public void CompileError_UnknownAttribute_NamesPositionAndSuggestion()
    {
        Compiler.TryCompile("source.name == \"a\" && source.namepsace == \"prod\"", out _, out var error).ShouldBeFalse();
        error!.Line.ShouldBe(1);
        error.Column.ShouldBe(23);
        error.Reason.ShouldBe("unknown attribute 'source.namepsace'; did you mean 'source.namespace'?");
        error.ToString().ShouldStartWith("1:23: ");
    }

    [Fact]
    public void CompileError_OnSecondLine_CountsLinesAndColumns()
    {
        Compiler.TryCompile("as == \"a\" &&\n  ai == \"b\"", out _, out var error).ShouldBeFalse();
        (error!.Line, error.Column).ShouldBe((2, 9));
    }

    [Fact]
    public void Compile_BadText_ThrowsWithTheError()
    {
        var e = Should.Throw<ExpressionCompileException>(() => Compiler.Compile("as =="));
        e.Message.ShouldContain("expected operand");
    }

    [Theory]
    [InlineData("as == \"x\"", ValueType.Bool)]
    [InlineData("request.size | 10", ValueType.Int64)]
    [InlineData("response.duration | \"0ms\"", ValueType.Duration)]
    [InlineData("ip(\"1.2.3.4\")", ValueType.IpAddress)]
    [InlineData("dnsName(as)", ValueType.DnsName)]
    [InlineData("conditional(ab, at, bt)", ValueType.Timestamp)]
    [InlineData("ar | br", ValueType.StringMap)]
    public void TypeOf_Expression_IsKnownBeforeItRuns(string text, ValueType type)
    {
        Compiler.TryGetType(text, out var t, out var error).ShouldBeTrue(error?.ToString());
        t.ShouldBe(type);
        Compiler.Compile(text).ResultType.ShouldBe(type);
    }

    [Fact]
    public void Evaluate_MapKeyLookup_RecordsOnlyThatKey()
    {
        var tracker = new ReferenceTracker();
        var bag = new DictionaryBag(tracker)
            .Set("request.headers", AttributeValue.StringMap(new StringMapValue(new Dictionary<string, string> { ["x-user"] = "admin", ["cookie"] = "secret" })))
            .Set("source.namespace", AttributeValue.String("prod"));
        var e = Compiler.Compile("request.headers[\"x-user\"] == \"admin\" && source.namespace == \"prod\"");
        e.TryEvaluateBool(bag, out var ok, out _).ShouldBeTrue();
        ok.ShouldBeTrue();
        tracker.References.ShouldBe(
        [
            new AttributeReference("request.headers", "x-user", ReferenceKind.Exact),
            new AttributeReference("source.namespace", null, ReferenceKind.Exact),
        ]);
        tracker.WholeMaps.ShouldBeEmpty();
    }

    [Fact]
    public void Evaluate_DefaultChain_RecordsEachAbsenceThenTheValueUsed()
    {
        var tracker = new ReferenceTracker();
        var bag = new DictionaryBag(tracker).Set("bs", AttributeValue.String("b"));
        Compiler.Compile("as | bs | \"c\"").Evaluate(bag).Value.AsString.ShouldBe("b");
        tracker.References.ShouldBe(
        [
            new AttributeReference("as", null, ReferenceKind.Absence),
            new AttributeReference("bs", null, ReferenceKind.Exact),
        ]);
    }

    [Fact]
    public void Evaluate_DefaultChainOverWireBag_RecordsWhatItReadAndNamesTheLastWhenAllAreAbsent()
    {
        // source.user and source.uid are global words, "x.custom" is a message word.
        var attrs = new Istio.Mixer.V1.CompressedAttributes();
        attrs.Words.Add("x.custom");
        attrs.Words.Add("v");
        attrs.Strings[-1] = -2;
        var manifest = new AttributeManifest(new Dictionary<string, ValueType>
        {
            ["source.user"] = ValueType.String, ["source.uid"] = ValueType.String, ["x.custom"] = ValueType.String,
        });
        var tracker = new ReferenceTracker();
        ProtoBag.TryCreate(attrs, (uint)Istio.Mixer.V1.GlobalDictionary.Words.Count, null, tracker, out var bag, out var error).ShouldBeTrue(error);
        var compiler = new ExpressionCompiler(manifest);

        compiler.Compile("source.user | x.custom | source.uid").Evaluate(bag).Value.AsString.ShouldBe("v");
        tracker.References.ShouldBe(
        [
            new AttributeReference("source.user", null, ReferenceKind.Absence),
            new AttributeReference("x.custom", null, ReferenceKind.Exact),
        ]);
        compiler.Compile("source.user | source.uid").Evaluate(bag).Error.ShouldBe("lookup failed: 'source.uid'");
        compiler.Compile("source.user | source.uid | \"d\"").Evaluate(bag).Value.AsString.ShouldBe("d");
    }

    [Fact]
    public void TieredExpression_BeforeAndAfterTierUp_GivesTheSameAnswers()
    {
        var e = new ExpressionCompiler(Cases.Manifest).Compile("request.headers[\"x-user\"] | \"anon\"");
        var bag = new DictionaryBag().Set("request.headers", AttributeValue.StringMap(new StringMapValue(new Dictionary<string, string> { ["x-user"] = "jane" })));
        var before = e.Evaluate(bag);
        e.CompileNow();
        e.IsCompiled.ShouldBeTrue();
        e.Evaluate(bag).ShouldBe(before);
        before.Value.AsString.ShouldBe("jane");
        e.Evaluate(new DictionaryBag()).Value.AsString.ShouldBe("anon");
    }

    [Fact]
    public void TieredExpression_LeftAlone_IsCompiledInTheBackground()
    {
        var e = new ExpressionCompiler(Cases.Manifest, CompilationMode.Tiered).Compile("as == \"tiered-" + Guid.NewGuid() + "\"");
        SpinWait.SpinUntil(() => e.IsCompiled, TimeSpan.FromSeconds(30)).ShouldBeTrue();
        e.Evaluate(new DictionaryBag().Set("as", AttributeValue.String("x"))).Value.AsBool.ShouldBeFalse();
    }

    [Fact]
    public void Evaluate_ShortCircuit_DoesNotReadTheRightOperand()
    {
        var tracker = new ReferenceTracker();
        var bag = new DictionaryBag(tracker).Set("ab", AttributeValue.Bool(false));
        Compiler.Compile("ab && bb").Evaluate(bag).Value.AsBool.ShouldBeFalse();
        tracker.References.Select(r => r.Name).ShouldBe(["ab"]);
    }

    [Fact]
    public void Evaluate_BagThatThrows_GivesAnErrorValueNotAnException()
    {
        var e = Compiler.Compile("as == \"x\"");
        var result = e.Evaluate(new ThrowingBag());
        result.Succeeded.ShouldBeFalse();
        result.Error.ShouldBe("evaluation failed: bag is broken");
    }

    [Fact]
    public void Evaluate_WrongTypedEvaluator_IsAProgrammingError()
    {
        var e = Compiler.Compile("as");
        Should.Throw<InvalidOperationException>(() => e.TryEvaluateBool(new DictionaryBag(), out _, out _)).Message.ShouldContain("is STRING, not BOOL");
    }

    [Fact]
    public void Evaluate_IpFromWireBytes_IsTypedAsTheManifestSays()
    {
        var bag = new DictionaryBag().Set("source.ip", AttributeValue.Bytes([10, 1, 2, 3]));
        var v = Compiler.Compile("source.ip").Evaluate(bag).Value;
        v.Type.ShouldBe(ValueType.IpAddress);
        v.ToString().ShouldBe("10.1.2.3");
    }

    [Fact]
    public void ConstantFolding_ConstantSubexpressions_AreComputedAtCompileTime()
    {
        Compiler.TryCheck("as == \"a\" + \"b\" && (1 == 1 || ab)", out var tree, out _).ShouldBeTrue();
        var folded = Compilation.Folder.Fold(tree);
        folded.ToString().ShouldBe("EQ($as, \"ab\")");
        Compilation.Folder.Fold(Parse("conditional(true, as, bs)")).ToString().ShouldBe("STRICT($as)");
        Compilation.Folder.Fold(Parse("ip(\"10.1.12\") == aip")).ToString().ShouldBe("EQ(ip(\"10.1.12\"), $aip)");
    }

    [Fact]
    public void Suggest_Typo_FindsNearestName()
    {
        Suggest.Nearest("destination.servce.host", ["destination.service.host", "destination.service.name"]).ShouldBe("destination.service.host");
        Suggest.Nearest("qqqq", ["destination.service.host"]).ShouldBeNull();
    }

    private static Expr Parse(string text)
    {
        Compiler.TryCheck(text, out var tree, out var error).ShouldBeTrue(error?.ToString());
        return tree;
    }

    private sealed class ThrowingBag : IAttributeBag
    {
        public IEnumerable<string> Names => [];

        public bool TryGet(string name, out AttributeValue value) => throw new InvalidOperationException("bag is broken");

        public bool TryGet(AttributeName name, out AttributeValue value) => throw new InvalidOperationException("bag is broken");
    }
}
