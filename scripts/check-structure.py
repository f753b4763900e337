#!/usr/bin/env python3
# Issue 15 limits over a Sources tree: files over 500 lines (FILE) and functions, initializers,
# subscripts and computed properties over 80 lines (FUNC), by brace matching with strings and
# comments stripped. Prints nothing when the tree keeps the limits.
#   scripts/check-structure.py [SOURCES_DIR]
import os,re,sys
root=sys.argv[1] if len(sys.argv)>1 else 'Sources'
def strip(line, state):
    # remove string literals and comments (approx); state: in block comment / multiline string
    out=[];i=0;n=len(line)
    while i<n:
        if state['block']:
            j=line.find('*/',i)
            if j<0: return ''.join(out)
            state['block']=False;i=j+2;continue
        if state['ml']:
            j=line.find('"""',i)
            if j<0: return ''.join(out)
            state['ml']=False;i=j+3;continue
        c=line[i]
        if line.startswith('//',i): break
        if line.startswith('/*',i): state['block']=True;i+=2;continue
        if line.startswith('"""',i): state['ml']=True;i+=3;continue
        if c=='"':
            j=i+1
            while j<n and line[j]!='"':
                if line[j]=='\\': j+=1
                j+=1
            i=j+1;out.append('""');continue
        out.append(c);i+=1
    return ''.join(out)
decl=re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|static|final|override|mutating|nonmutating|nonisolated|package|open|class|@inlinable|@usableFromInline)\s+)*(func\s+[^\s(<]+|init[?!]?|deinit|subscript|var\s+\w+\s*:[^={]*\{)')
long=[];big=[]
for dp,dn,fn in os.walk(root):
    for f in fn:
        if not f.endswith('.swift'): continue
        p=os.path.join(dp,f);L=open(p).read().split('\n')
        if len(L)-1>500: big.append((len(L)-1,p))
        st={'block':False,'ml':False};stack=[];depth=0
        for i,l in enumerate(L):
            s=strip(l,st)
            m=decl.match(s)
            if m and '{' in s:
                stack.append((depth,i,m.group(1)))
            for ch in s:
                if ch=='{': depth+=1
                elif ch=='}':
                    depth-=1
                    if stack and stack[-1][0]==depth:
                        d,start,name=stack.pop()
                        ln=i-start+1
                        if ln>80: long.append((ln,p,start+1,name))
for n,p in sorted(big,reverse=True): print(f'FILE {n} {p}')
for ln,p,s,name in sorted(long,reverse=True): print(f'FUNC {ln} {p}:{s} {name}')
