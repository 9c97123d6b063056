using Istio.Mixer.V1;
using Mixer.Sdk;
using Mixer.Server.Api;

namespace Mixer.Server.Tests;

/// <summary>The encoder shares recent encodings between requests of one shape; sharing must never change an answer.</summary>
public sealed class ReferencedAttributesEncoderTests
{
    private static readonly string s_path = GlobalDictionary.Words[GlobalDictionary.IndexOf("request.path")];
    private static readonly string s_headers = GlobalDictionary.Words[GlobalDictionary.IndexOf("request.headers")];

    private static ReferencedAttributes Encode(uint globalWordCount, params (string Name, string? Key, bool Present)[] lookups)
    {
        var tracker = new ReferenceTracker();
        foreach (var (name, key, present) in lookups)
        {
            if (key is null)
            {
                tracker.Attribute(name, present);
            }
            else
            {
                tracker.MapKey(name, key, present);
            }
        }

        return ReferencedAttributesEncoder.Encode(tracker, globalWordCount);
    }

    [Fact]
    public void SameLookups_EncodeTheSame_AndDifferentOnesDoNot()
    {
        const string key = "x-user";
        var first = Encode(203, (s_path, null, true), (s_headers, key, true));
        var again = Encode(203, (s_path, null, true), (s_headers, key, true));
        var absent = Encode(203, (s_path, null, true), (s_headers, key, false));
        var fewerWords = Encode(0, (s_path, null, true), (s_headers, key, true));
        var otherKey = Encode(203, (s_path, null, true), (s_headers, new string("x-user".ToCharArray()) + "2", true));

        again.ShouldBe(first);
        absent.AttributeMatches[1].Condition.ShouldBe(ReferencedAttributes.Types.Condition.Absence);
        first.AttributeMatches[1].Condition.ShouldBe(ReferencedAttributes.Types.Condition.Exact);
        first.AttributeMatches[0].Name.ShouldBe(GlobalDictionary.IndexOf("request.path"));
        fewerWords.Words.ShouldBe(["request.path", "request.headers", "x-user"]);
        fewerWords.AttributeMatches[0].Name.ShouldBe(-1);
        otherKey.Words.ShouldContain("x-user2");
        otherKey.ShouldNotBe(first);
    }

    [Fact]
    public void EqualNamesInOtherStrings_EncodeTheSameAnswer()
    {
        var interned = Encode(203, (s_path, null, true));
        var copied = Encode(203, (new string(s_path.ToCharArray()), null, true));

        copied.ShouldBe(interned);
    }
}
