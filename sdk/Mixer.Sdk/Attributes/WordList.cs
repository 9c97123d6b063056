using System.Text;

namespace Mixer.Sdk;

/// <summary>
/// A report's <c>default_words</c>: each word decoded from the request's bytes the first time a
/// set uses it, then kept. A sidecar's report names a request id or two per set as new words;
/// when no rule reads them they are checked by index and never turned into strings.
/// </summary>
internal sealed class WordList : IReadOnlyList<string>
{
    private ReadOnlyMemory<byte> _source;
    private (int Start, int Length)[] _at = new (int, int)[64];
    private string?[] _words = new string?[64];
    private int _count;

    public int Count => _count;

    public string this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return _words[index] ??= Decode(index);
        }
    }

    /// <summary>Empties the list; later <see cref="Add(int, int)"/> positions are in <paramref name="source"/>.</summary>
    public void Reset(ReadOnlyMemory<byte> source)
    {
        Array.Clear(_words, 0, _count);
        _count = 0;
        _source = source;
    }

    /// <summary>A word decoded already.</summary>
    public void Add(string word)
    {
        Grow();
        _words[_count++] = word;
    }

    /// <summary>A word still in the source's bytes.</summary>
    public void Add(int start, int length)
    {
        Grow();
        _at[_count++] = (start, length);
    }

    /// <summary>Lets go of the words and the source; keeps small storage for the next report.</summary>
    public void Release(int retained)
    {
        Reset(default);
        if (_words.Length > retained)
        {
            _words = new string?[64];
            _at = new (int, int)[64];
        }
    }

    public IEnumerator<string> GetEnumerator()
    {
        for (var i = 0; i < _count; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    private string Decode(int index)
    {
        var (start, length) = _at[index];
        return Encoding.UTF8.GetString(_source.Span.Slice(start, length));
    }

    private void Grow()
    {
        if (_count == _words.Length)
        {
            Array.Resize(ref _words, _count * 2);
            Array.Resize(ref _at, _count * 2);
        }
    }
}
