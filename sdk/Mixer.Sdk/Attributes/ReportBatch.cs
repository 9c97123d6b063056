using Istio.Mixer.V1;

namespace Mixer.Sdk;

/// <summary>
/// The attribute sets of one <see cref="ReportRequest"/>, every index checked up front. With
/// DELTA_ENCODING (Istio 1.0's only semantics) each set is applied on top of all the sets before
/// it; with INDEPENDENT_ENCODING each stands alone.
/// </summary>
public sealed class ReportBatch
{
    private readonly ProtoBag[] _elements;
    private readonly bool _delta;

    private ReportBatch(ProtoBag[] elements, bool delta)
    {
        _elements = elements;
        _delta = delta;
    }

    /// <summary>Number of attribute sets.</summary>
    public int Count => _elements.Length;

    /// <summary>Checks every element of <paramref name="request"/>.</summary>
    /// <param name="request">The request as received.</param>
    /// <param name="batch">The decoded batch when valid.</param>
    /// <param name="error">What is wrong (naming the element) when not.</param>
    public static bool TryCreate(ReportRequest request, out ReportBatch batch, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        var elements = new ProtoBag[request.Attributes.Count];
        for (var i = 0; i < elements.Length; i++)
        {
            if (!ProtoBag.TryCreate(request.Attributes[i], request.GlobalWordCount, request.DefaultWords, null, out elements[i], out error))
            {
                batch = null!;
                error = error!.Insert(ProtoBag.InvalidAttributesPrefix.Length, $"attributes[{i}]: ");
                return false;
            }
        }

        batch = new ReportBatch(elements, request.RepeatedAttributesSemantics == ReportRequest.Types.RepeatedAttributesSemantics.DeltaEncoding);
        error = null;
        return true;
    }

    /// <summary>
    /// The attribute sets in order. Under delta encoding one bag is updated in place from set to
    /// set: use each bag before moving to the next, and do not keep it.
    /// </summary>
    public IEnumerable<IAttributeBag> Bags()
    {
        if (!_delta)
        {
            foreach (var e in _elements)
            {
                yield return e;
            }

            yield break;
        }

        var accumulated = new DeltaBag();
        foreach (var e in _elements)
        {
            accumulated.Apply(e);
            yield return accumulated;
        }
    }

    /// <summary>The accumulated view: each attribute answered by the latest set that carried it.</summary>
    private sealed class DeltaBag : IAttributeBag
    {
        private readonly Dictionary<string, AttributeValue> _values = new(StringComparer.Ordinal);

        public IEnumerable<string> Names => _values.Keys;

        public void Apply(ProtoBag layer)
        {
            for (var i = 0; i < layer.Count; i++)
            {
                var (name, value) = layer.At(i);
                _values[name] = value;
            }
        }

        public bool TryGet(string name, out AttributeValue value) => _values.TryGetValue(name, out value);
    }
}
