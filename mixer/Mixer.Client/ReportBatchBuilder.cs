using Istio.Mixer.V1;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Client;

/// <summary>
/// Builds one <see cref="ReportRequest"/> with DELTA_ENCODING, Istio 1.0's only semantics: the
/// first set is sent whole, each later one only with the attributes that were added or whose value
/// changed since the set before it. All sets share one word list, sent once as
/// <c>default_words</c>. Not thread-safe: one builder per batch being filled. The builder keeps the
/// values of the last set to compare the next one with (no copy, on the report hot path): do not
/// change a set's values after adding it.
/// </summary>
/// <remarks>
/// Delta encoding cannot say "this attribute is gone". As Istio's proxy does, a set that lacks an
/// attribute the previous set had is refused (<see cref="TryAdd"/> returns false, the batch is left
/// as it was): send what is built and start a new batch with that set. So a server applying each
/// set on top of the ones before it sees exactly the sets that were added.
/// </remarks>
public sealed class ReportBatchBuilder
{
    private readonly AttributeCompressor _compressor;
    private readonly Dictionary<string, AttributeValue> _previous = new(StringComparer.Ordinal);
    private WordTable? _words;
    private ReportRequest _request = new();

    internal ReportBatchBuilder(AttributeCompressor compressor) => _compressor = compressor;

    /// <summary>How many sets the batch holds.</summary>
    public int Count => _request.Attributes.Count;

    /// <summary>
    /// Adds <paramref name="attributes"/> as the next set, encoded as a delta on the set before.
    /// False, leaving the batch unchanged, when the set lacks an attribute the previous set had.
    /// </summary>
    /// <exception cref="ArgumentException">An attribute has no value set.</exception>
    public bool TryAdd(Attributes attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        AttributeEncoder.Validate(attributes);
        foreach (var name in _previous.Keys)
        {
            if (!attributes.Attributes_.ContainsKey(name))
            {
                return false;
            }
        }

        // The word count is fixed when the batch starts: its indexes and its global_word_count must agree.
        _words ??= new WordTable(_compressor.GlobalWordCount);
        var element = new CompressedAttributes();
        foreach (var (name, value) in attributes.Attributes_)
        {
            if (_previous.TryGetValue(name, out var before) && (ReferenceEquals(before, value) || before.Equals(value)))
            {
                continue;
            }

            AttributeEncoder.Put(element, _words, name, value);
            _previous[name] = value;
        }

        _request.Attributes.Add(element);
        return true;
    }

    /// <summary>The request holding every set added so far; the builder starts again empty.</summary>
    public ReportRequest Build()
    {
        var request = _request;
        if (_words is not null)
        {
            request.DefaultWords.AddRange(_words.Words);
            request.GlobalWordCount = (uint)_words.GlobalWordCount;
        }
        else
        {
            request.GlobalWordCount = (uint)_compressor.GlobalWordCount;
        }

        request.RepeatedAttributesSemantics = ReportRequest.Types.RepeatedAttributesSemantics.DeltaEncoding;
        _request = new ReportRequest();
        _previous.Clear();
        _words = null;
        return request;
    }
}
