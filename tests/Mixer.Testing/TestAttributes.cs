using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;

namespace Mixer.Testing;

/// <summary>
/// Builds <see cref="CompressedAttributes"/> for tests without our Mixer.Client: every word goes
/// into the message's own dictionary (index -1-i), which every Istio 1.0 server accepts.
/// </summary>
public sealed class TestAttributes
{
    private readonly CompressedAttributes _attributes = new();
    private readonly Dictionary<string, int> _words = new(StringComparer.Ordinal);

    /// <summary>Adds a STRING attribute.</summary>
    public TestAttributes String(string name, string value)
    {
        _attributes.Strings[Word(name)] = Word(value);
        return this;
    }

    /// <summary>Adds an INT64 attribute.</summary>
    public TestAttributes Int64(string name, long value)
    {
        _attributes.Int64S[Word(name)] = value;
        return this;
    }

    /// <summary>Adds a BOOL attribute.</summary>
    public TestAttributes Bool(string name, bool value)
    {
        _attributes.Bools[Word(name)] = value;
        return this;
    }

    /// <summary>Adds a DOUBLE attribute.</summary>
    public TestAttributes Double(string name, double value)
    {
        _attributes.Doubles[Word(name)] = value;
        return this;
    }

    /// <summary>Adds an IP_ADDRESS attribute (sent as bytes, as the proxy does).</summary>
    public TestAttributes Ip(string name, string address)
    {
        _attributes.Bytes[Word(name)] = ByteString.CopyFrom(System.Net.IPAddress.Parse(address).GetAddressBytes());
        return this;
    }

    /// <summary>Adds a TIMESTAMP attribute.</summary>
    public TestAttributes Timestamp(string name, DateTimeOffset value)
    {
        _attributes.Timestamps[Word(name)] = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(value);
        return this;
    }

    /// <summary>Adds a DURATION attribute.</summary>
    public TestAttributes Duration(string name, TimeSpan value)
    {
        _attributes.Durations[Word(name)] = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(value);
        return this;
    }

    /// <summary>Adds a STRING_MAP attribute.</summary>
    public TestAttributes Map(string name, params (string Key, string Value)[] entries)
    {
        var map = new StringMap();
        foreach (var (k, v) in entries)
        {
            map.Entries[Word(k)] = Word(v);
        }

        _attributes.StringMaps[Word(name)] = map;
        return this;
    }

    /// <summary>The message, words included.</summary>
    public CompressedAttributes Build()
    {
        var result = _attributes.Clone();
        result.Words.Clear();
        result.Words.AddRange(_words.OrderBy(kv => kv.Value).Select(kv => kv.Key));
        return result;
    }

    /// <summary>A CheckRequest carrying these attributes.</summary>
    public CheckRequest Check(params (string Quota, long Amount)[] quotas)
    {
        var request = new CheckRequest { Attributes = Build(), GlobalWordCount = 0, DeduplicationId = Guid.NewGuid().ToString("N") };
        foreach (var (q, amount) in quotas)
        {
            request.Quotas[q] = new CheckRequest.Types.QuotaParams { Amount = amount };
        }

        return request;
    }

    private int Word(string word)
    {
        if (!_words.TryGetValue(word, out var index))
        {
            index = _words.Count;
            _words[word] = index;
        }

        return -1 - index;
    }
}

/// <summary>Reads a <see cref="ReferencedAttributes"/> back into text (for assertions).</summary>
public static class ReferencedNames
{
    /// <summary>
    /// Each match as <c>CONDITION name</c> or <c>CONDITION name[key]</c>, e.g. <c>EXACT request.headers[x-user]</c>.
    /// Requests built by <see cref="TestAttributes"/> know no global words, so every index is a message word
    /// and a map key of 0 means "no key".
    /// </summary>
    public static IReadOnlyList<string> Of(ReferencedAttributes referenced)
    {
        ArgumentNullException.ThrowIfNull(referenced);
        string Word(int i) => i < 0 ? referenced.Words[-1 - i] : $"<global {i}>";
        return referenced.AttributeMatches
            .Select(m => $"{m.Condition.ToString().ToUpperInvariant()} {Word(m.Name)}{(m.MapKey != 0 ? $"[{Word(m.MapKey)}]" : string.Empty)}")
            .ToList();
    }
}
