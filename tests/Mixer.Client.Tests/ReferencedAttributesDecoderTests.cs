using Istio.Mixer.V1;
using Mixer.Client;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;
using Match = Istio.Mixer.V1.ReferencedAttributes.Types.AttributeMatch;

namespace Mixer.Client.Tests;

/// <summary>ReferencedAttributes written by hand, as a Mixer sends them, read back into names and keys.</summary>
public sealed class ReferencedAttributesDecoderTests
{
    [Fact]
    public void Decode_GlobalAndMessageWords_ResolveToNames()
    {
        var referenced = new ReferencedAttributes
        {
            Words = { "my.attribute" },
            AttributeMatches =
            {
                new Match { Name = 4, Condition = Condition.Exact },                // source.namespace
                new Match { Name = -1, Condition = Condition.Absence },
            },
        };

        ReferencedAttributesDecoder.Decode(referenced).ShouldBe([
            new ReferencedAttribute("source.namespace", null, Condition.Exact),
            new ReferencedAttribute("my.attribute", null, Condition.Absence),
        ]);
    }

    [Fact]
    public void Decode_WithTheRequest_ReadsMapKeysOfMapsTheRequestHas_EvenKeyZero()
    {
        // map_key 0 is global word 0 ("source.ip"): only the request can tell it from "no key".
        var request = new Attributes().SetStringMap("request.headers", [new("x-user", "a")]);
        var referenced = new ReferencedAttributes
        {
            Words = { "x-user" },
            AttributeMatches =
            {
                new Match { Name = 15, MapKey = -1, Condition = Condition.Exact },
                new Match { Name = 15, MapKey = 0, Condition = Condition.Absence },
                new Match { Name = 5, Condition = Condition.Absence },                 // source.labels, absent whole
            },
        };

        ReferencedAttributesDecoder.Decode(referenced, request).ShouldBe([
            new ReferencedAttribute("request.headers", "x-user", Condition.Exact),
            new ReferencedAttribute("request.headers", "source.ip", Condition.Absence),
            new ReferencedAttribute("source.labels", null, Condition.Absence),
        ]);
    }

    [Fact]
    public void Decode_WithoutTheRequest_ReadsMapKeyZeroAsNoKey_AsIstiosMixc()
    {
        var referenced = new ReferencedAttributes
        {
            Words = { "x-user" },
            AttributeMatches = { new Match { Name = 15, MapKey = -1, Condition = Condition.Exact }, new Match { Name = 5, Condition = Condition.Absence } },
        };

        ReferencedAttributesDecoder.Decode(referenced).Select(r => r.ToString()).ShouldBe(["request.headers::x-user EXACT", "source.labels ABSENCE"]);
    }

    [Fact]
    public void Decode_Regex_KeepsThePattern()
    {
        var referenced = new ReferencedAttributes { AttributeMatches = { new Match { Name = 17, Condition = Condition.Regex, Regex = "^/api/" } } };

        var match = ReferencedAttributesDecoder.Decode(referenced).Single();

        match.ShouldBe(new ReferencedAttribute("request.path", null, Condition.Regex, "^/api/"));
        match.ConditionName.ShouldBe("REGEX");
    }

    [Theory]
    [InlineData(203, 0, "attribute_matches[0].name: word index 203 is not defined")]
    [InlineData(-2, 0, "attribute_matches[0].name: word index -2 is not defined")]
    [InlineData(15, -3, "attribute_matches[0].map_key: word index -3 is not defined")]
    public void TryDecode_IndexOutsideBothDictionaries_FailsNamingTheMatchAndField(int name, int mapKey, string expected)
    {
        var referenced = new ReferencedAttributes { Words = { "w" }, AttributeMatches = { new Match { Name = name, MapKey = mapKey, Condition = Condition.Exact } } };

        ReferencedAttributesDecoder.TryDecode(referenced, null, out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull();
        error.ShouldStartWith(expected);
        error.ShouldContain("the message 1 (indexes -1..-1)");
        Should.Throw<FormatException>(() => ReferencedAttributesDecoder.Decode(referenced));
    }

    [Fact]
    public void Decode_NoneOrNull_IsEmpty()
    {
        ReferencedAttributesDecoder.Decode(null).ShouldBeEmpty();
        ReferencedAttributesDecoder.Decode(new ReferencedAttributes()).ShouldBeEmpty();
    }
}
